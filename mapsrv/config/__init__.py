"""One typed configuration, built from defaults, then ``MAPSRV_*`` environment variables, then
command-line flags. An unknown ``MAPSRV_*`` variable is an error, and a bad value names its key.

``Config`` is every group of settings at once (``groups``: the network, the store, streams, rate
limits, logs, stdio; ``services``: tiles and layers, sign-in, the router, places), each a frozen
dataclass that checks its own values; a part of mapsrv that needs one concern can take its group.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapsrv.config.groups import (
    LogSettings,
    NetworkSettings,
    RateSettings,
    StdioSettings,
    StoreSettings,
    StreamSettings,
)
from mapsrv.config.services import LayerSettings, PlaceSettings, RoutingSettings, SigninSettings
from mapsrv.config.sources import (
    HOURS,
    KIB,
    MAX_RATE,
    MIB,
    MINUTES,
    SECONDS,
    ConfigError,
    add_setting_flags,
    check_logging,
    check_range,
    convert,
    settings_from_sources,
)
from mapsrv.store.sqlite import default_path

__all__ = [
    "GROUPS",
    "HOURS",
    "KIB",
    "MAX_RATE",
    "MIB",
    "MINUTES",
    "SECONDS",
    "STDIO_ONLY",
    "Config",
    "ConfigError",
    "add_arguments",
    "add_setting_flags",
    "check_logging",
    "check_range",
    "convert",
    "settings_from_sources",
]

ENV_PREFIX = "MAPSRV_"
GATEWAY_ENV_PREFIX = "MAPSRV_GATEWAY_"
STDIO_ONLY = ("server", "server_key")  # settings only `mapsrv stdio` reads (no flags on serve)
SECRETS = ("api_keys", "server_key", "oidc_client_secret")  # never shown, not even their defaults
# Every group, in the order their settings are listed (``--help``) and checked.
GROUPS = (
    NetworkSettings,
    StoreSettings,
    StreamSettings,
    LayerSettings,
    SigninSettings,
    RateSettings,
    RoutingSettings,
    PlaceSettings,
    LogSettings,
    StdioSettings,
)


@dataclass(frozen=True)
class Config(
    StdioSettings,
    LogSettings,
    PlaceSettings,
    RoutingSettings,
    RateSettings,
    SigninSettings,
    LayerSettings,
    StreamSettings,
    StoreSettings,
    NetworkSettings,
):
    """Every setting (a dataclass lists a base's fields after those of the bases that follow it,
    hence the bases in the reverse of ``GROUPS``)."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Every group's own checks, in ``GROUPS``' order."""
        for group in GROUPS:
            group.check(self)

    @classmethod
    def from_sources(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Config:
        """Defaults, then ``MAPSRV_*`` variables from ``environ``, then ``overrides`` (CLI)."""
        # MAPSRV_GATEWAY_* belong to `mapsrv gateway`, which may share the environment
        environ = {k: v for k, v in (environ or {}).items() if not k.startswith(GATEWAY_ENV_PREFIX)}
        for key, raw in environ.items():
            name = key[len(ENV_PREFIX) :].lower()
            if key.startswith(ENV_PREFIX) and (
                raw.startswith("tcp://")
                or name.endswith(("_service_host", "_service_port"))
                or "_port_" in name
            ):
                raise ConfigError(
                    f"{key} looks like a Kubernetes service link, not a mapsrv setting; set"
                    " enableServiceLinks: false in the pod spec (deploy/k8s does)"
                )
        return cls(**settings_from_sources(cls, ENV_PREFIX, environ, overrides))

    @property
    def store_url(self) -> str:
        """The store's URL, the default (the SQLite file in the user's data directory) spelt out."""
        return self.store or "sqlite://"

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def places_path(self) -> Path:
        """Where the offline index of imported extracts lives: ``places_dir``, else ``places/``
        beside the default maps.db (in the user's data directory)."""
        if self.places_dir:
            return Path(self.places_dir).expanduser()
        return default_path().parent / "places"


def add_arguments(
    parser: argparse.ArgumentParser, only: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> None:
    """``mapsrv serve``'s and ``mapsrv stdio``'s flags."""
    add_setting_flags(parser, Config, ENV_PREFIX, secrets=SECRETS, only=only, exclude=exclude)
