"""MkDocs hooks (mkdocs.yml ``hooks``): the reference pages are written from the code at build
time, so they cannot drift from it. A page holding ``<!-- reference: tools -->`` gets every MCP
tool with its arguments (from the schemas the tools publish), ``<!-- reference: cli -->`` every
command and flag (from the argument parsers), ``<!-- reference: metrics -->`` every metric (from
a real ``mapsrv serve``'s ``/metrics``)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import urllib.request
from typing import Any

MARKER = re.compile(r"<!-- reference: (\w+) -->")


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: GENERATORS[m.group(1)](), markdown)


# --- tools ------------------------------------------------------------------------------------


def tools() -> str:
    from mapsrv.mcp.tools.registry import ROUTING_TOOLS, TOOLS, ToolRunner

    out = []
    for spec in (*TOOLS, *ROUTING_TOOLS):
        runner = ToolRunner.of(spec)
        hints = spec.hints
        said = ["reads only" if hints.read_only_hint else "writes"]
        if hints.destructive_hint:
            said.append("may overwrite or remove")
        if hints.idempotent_hint:
            said.append("idempotent")
        if hints.open_world_hint:
            said.append("asks another service")
        if spec in ROUTING_TOOLS:
            said.append("listed only with `--router`")
        out += [f"## `{spec.name}`: {spec.title}", "", spec.description, "", f"*{', '.join(said)}*", ""]
        schema = {**runner.validator.schema, **spec.schema}
        required = set(schema.get("required", ()))
        rows = schema.get("properties", {})
        if rows:
            out += ["| argument | type | |", "|---|---|---|"]
            for name, prop in rows.items():
                what = _cell(prop.get("description", ""))
                need = "**required**" if name in required else ""
                out.append(f"| `{name}` {need} | {_cell(_type(prop))} | {what} |")
            out.append("")
            for name, prop in rows.items():
                out += _members(name, prop)
        if spec.schema:
            out += [f"Also: `{_cell(str(dict(spec.schema)))}`", ""]
    return "\n".join(out)


def _members(name: str, prop: dict[str, Any]) -> list[str]:
    """The fields of an argument that is an object, or a list of objects (``draw``'s items)."""
    inner = prop.get("items", prop)
    fields = inner.get("properties")
    if not fields:
        return []
    shown = f"{name}[]" if "items" in prop else name
    out = [f"Each of `{shown}`:", "", "| field | type | |", "|---|---|---|"]
    required = set(inner.get("required", ()))
    for field, sub in fields.items():
        need = "**required**" if field in required else ""
        out.append(f"| `{field}` {need} | {_cell(_type(sub, 1))} | {_cell(sub.get('description', ''))} |")
    return [*out, ""]


def _type(prop: dict[str, Any], depth: int = 0) -> str:
    if "properties" in prop:
        return "object"
    if "enum" in prop:
        return " / ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in prop:
            kinds = [_type(p, depth + 1) for p in prop[key] if p.get("type") != "null"]
            return " or ".join(dict.fromkeys(k for k in kinds if k)) or "any"
    kind = prop.get("type", "")
    if kind == "array":
        inner = _type(prop.get("items", {}), depth + 1) if depth < 2 else ""
        return f"list of {inner}" if inner else "list"
    if kind == "object" or "properties" in prop:
        return "object"
    bounds = []
    limits = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("maxLength", "chars <="))
    for key, sign in limits:
        if key in prop and depth == 0:
            bounds.append(f"{sign} {prop[key]:g}" if isinstance(prop[key], float) else f"{sign} {prop[key]}")
    text = kind if isinstance(kind, str) else " or ".join(kind)
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- commands and flags -----------------------------------------------------------------------


def cli() -> str:
    from mapsrv.cli import _parser
    from mapsrv.gateway.cli import parser as gateway_parser

    out: list[str] = []
    _commands(_parser(), "mapsrv", out, skip={"gateway"})
    _commands(gateway_parser(), "mapsrv gateway", out, skip=set())
    return "\n".join(out)


def _commands(parser: argparse.ArgumentParser, prog: str, out: list[str], skip: set[str]) -> None:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        _flags(parser, prog, out)
        return
    for name, sub in subs[0].choices.items():
        if name not in skip:
            _commands(sub, f"{prog} {name}", out, skip)


def _flags(parser: argparse.ArgumentParser, prog: str, out: list[str]) -> None:
    out += [f"## `{prog}`", "", parser.description or "", ""]
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
        rows.append(f"| {name} | {_cell(action.help or '')} |")
    if rows:
        out += ["| flag | what |", "|---|---|", *rows, ""]


# --- metrics ----------------------------------------------------------------------------------


def metrics() -> str:
    """Every family a real server's ``/metrics`` describes (its ``# HELP`` and ``# TYPE``)."""
    command = [sys.executable, "-m", "mapsrv", "serve", "--port", "0", "--store", "memory://"]
    env = {**os.environ, "MAPSRV_LOG_LEVEL": "warning"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        said = []
        for line in process.stderr:
            said.append(line)
            found = re.search(r"open (http://\S+/) in your browser", line)
            if found:
                break
        else:
            raise RuntimeError("mapsrv serve did not start: " + "".join(said[-20:]))
        with urllib.request.urlopen(found.group(1) + "metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        process.terminate()
        process.wait(10)
    helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, re.M))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    labels: dict[str, set[str]] = {}
    for name, inner in re.findall(r"^(\w+)\{([^}]*)\}", text, re.M):
        family = next((f for f in helps if name == f or name.startswith(f + "_")), name)
        labels.setdefault(family, set()).update(re.findall(r"(\w+)=", inner))
    out = ["| metric | type | labels | what |", "|---|---|---|---|"]
    for name in sorted(helps):
        shown = ", ".join(f"`{x}`" for x in sorted(labels.get(name, set()) - {"le", "quantile"}))
        out.append(f"| `{name}` | {types.get(name, '')} | {shown} | {_cell(helps[name])} |")
    return "\n".join(out)


GENERATORS = {"tools": tools, "cli": cli, "metrics": metrics}
