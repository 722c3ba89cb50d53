"""The pages' templates: one Jinja2 environment per package, over its ``templates/`` folder.

Both page layers use it (``mapsrv.web``: the map's pages; ``mapsrv.mcp``: the MCP App page), so
it lives here, below them. Every value is escaped unless a template says otherwise (``|tojson``
inside a ``<script>``): a title, a label, an attribution is text an agent or an operator wrote,
never markup. A value the caller did not give fails the render (``StrictUndefined``) instead of
quietly becoming an empty attribute. Jinja compiles each template once and keeps it; with
``auto_reload`` off a render does not even stat the file.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined

__all__ = ["environment", "render"]


@cache
def environment(package: str) -> Environment:
    """The environment of ``package``'s templates (package data in ``<package>/templates``)."""
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,  # every template here is HTML; no file name can turn escaping off
        undefined=StrictUndefined,
        auto_reload=False,
        keep_trailing_newline=True,  # the page as the file has it, to the last byte
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _json_default}
    return env


def _json_default(value: object) -> object:
    """``|tojson`` hands a missing value to ``json.dumps`` as is: fail as a missing value."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming the value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render(package: str, name: str, /, **values: Any) -> str:
    """Template ``name`` of ``package`` filled with ``values``; a missing one raises
    ``jinja2.UndefinedError``."""
    return environment(package).get_template(name).render(values)
