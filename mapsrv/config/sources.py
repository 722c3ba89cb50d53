"""How settings come in: defaults, then ``PREFIX_*`` environment variables, then command-line
flags, for any settings dataclass (``mapsrv serve``'s and ``mapsrv gateway``'s); the units they
are written in (``90s``, ``15m``, ``32MiB``), and the checks every group shares."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

__all__ = [
    "HOURS",
    "KIB",
    "MAX_RATE",
    "MIB",
    "MINUTES",
    "SECONDS",
    "ConfigError",
    "add_setting_flags",
    "check_logging",
    "check_range",
    "convert",
    "about",
    "settings_from_sources",
]

SECONDS = 1.0
MINUTES = 60 * SECONDS
HOURS = 60 * MINUTES
KIB = 1024
MIB = 1024 * KIB
# The most any rate_* may be, per second: the rate limiter's microsecond of slack must stay a
# small part of one interval (mapsrv.http.ratelimit), or a burst of one lets two through.
MAX_RATE = 10_000


class ConfigError(ValueError):
    pass


def about(text: str) -> dict[str, str]:
    """A setting's help text, as its field's metadata."""
    return {"help": text}


def settings_from_sources(
    cls: Any, prefix: str, environ: Mapping[str, str] | None, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The values of a settings dataclass: ``prefix``-named variables from ``environ``, then
    ``overrides`` (flags) over them. An unknown name is an error that lists the known ones."""
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in (environ or {}).items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :].lower()
        if name not in known:
            raise ConfigError(f"Unknown setting {key}; known: {', '.join(prefix + n.upper() for n in known)}")
        values[name] = convert(name, known[name].type, raw)
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ConfigError(f"Unknown setting {name!r}")
        if value is not None:
            values[name] = convert(name, known[name].type, value) if isinstance(value, str) else value
    return values


def check_range(settings: Any, name: str, low: float, high: float) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"Config {name!r} has value {value!r}. It must be between {low:g} and {high:g}.")


def check_logging(settings: Any) -> None:
    """``log_level`` and ``log_format``, which ``serve`` and ``gateway`` both have."""
    if settings.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            f"Config 'log_level' has value {settings.log_level!r}. Use debug, info, warning or error."
        )
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"Config 'log_format' has value {settings.log_format!r}. Use text or json.")


_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": SECONDS, "m": MINUTES, "h": HOURS, "d": 24 * HOURS, None: SECONDS}
_SIZE = re.compile(r"\s*([0-9][0-9_]*)\s*(KiB|MiB|GiB)?\s*")
_BYTES = {None: 1, "KiB": KIB, "MiB": MIB, "GiB": 1024 * MIB}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def convert(name: str, type_: Any, raw: str) -> Any:
    """A setting's text (a variable or a flag) as its field's type: whole numbers (and sizes such
    as ``32MiB``), durations (``90s``, ``15m``, ``1h``, plain seconds), booleans, comma lists."""
    type_name = type_ if isinstance(type_, str) else getattr(type_, "__name__", str(type_))
    if type_name == "int" and (size := _SIZE.fullmatch(raw)):
        return int(size.group(1).replace("_", "")) * _BYTES[size.group(2)]
    if type_name == "float" and (duration := _DURATION.fullmatch(raw)):
        return float(duration.group(1)) * _UNITS[duration.group(2)]
    if type_name == "bool" and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    if type_name.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if type_name == "str":
        return raw
    kind = {"int": "a valid int or size", "float": "a valid number or duration", "bool": "true or false"}
    raise ConfigError(f"Config {name!r} has value {raw!r}. Not {kind.get(type_name, type_name)}.")


def add_setting_flags(
    parser: argparse.ArgumentParser,
    cls: Any,
    prefix: str,
    *,
    secrets: Sequence[str],
    only: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    switches: bool = False,
) -> None:
    """One ``--flag`` per setting of ``cls``, with its help text, environment name and default
    (never a secret's). With ``switches``, a boolean's flag takes no value (``--shell``)."""
    for f in fields(cls):
        if (only is not None and f.name not in only) or f.name in exclude:
            continue
        shown = ",".join(f.default) if isinstance(f.default, tuple) else f.default
        if f.name in secrets:
            shown = "none (secrets never shown)"
        flag: dict[str, Any] = {"dest": f.name, "default": None, "metavar": f.name.upper()}
        if switches and f.type in (bool, "bool"):
            flag = {"dest": f.name, "default": None, "action": "store_const", "const": "true"}
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            help=f"{f.metadata['help']} (env {prefix}{f.name.upper()}; default {shown!s})",
            **flag,
        )
