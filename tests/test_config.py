from __future__ import annotations

import pytest

from mapsrv.cli import main
from mapsrv.config import HOURS, STDIO_ONLY, Config, ConfigError


def test_layers_defaults_environment_then_flags() -> None:
    config = Config.from_sources(
        {
            "MAPSRV_PORT": "9000",
            "MAPSRV_IDLE_TIMEOUT": "15m",
            "MAPSRV_ALLOWED_HOSTS": "a.example, b.example",
            "OTHER": "ignored",
        },
        {"port": "9001", "host": None},
    )
    assert config.port == 9001
    assert config.idle_timeout == 900
    assert config.allowed_hosts == ("a.example", "b.example")
    assert Config().idle_timeout == 1 * HOURS


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MAPSRV_PROT": "1"}, "Unknown setting MAPSRV_PROT"),
        ({"MAPSRV_PORT": "x"}, "Config 'port' has value 'x'. Not a valid int or size."),
        ({"MAPSRV_PORT": "70000"}, "Config 'port' has value 70000. It must be between 0 and 65535."),
        ({"MAPSRV_RATE_WRITES": "10001"}, "'rate_writes' has value 10001.0. It must be between 0 and 10000."),
        ({"MAPSRV_IDLE_TIMEOUT": "soon"}, "Config 'idle_timeout' has value 'soon'"),
        ({"MAPSRV_SECURE_COOKIES": "maybe"}, "Not true or false"),
        ({"MAPSRV_TILE_URL": "https://t.example/a.png"}, "needs {z}, {x} and {y}"),
        ({"MAPSRV_STORE": "mongodb://x"}, "Config 'store'"),
        ({"MAPSRV_PORT": "tcp://10.0.0.1:80"}, "looks like a Kubernetes service link"),
        ({"MAPSRV_REDIS_SERVICE_HOST": "10.0.0.2"}, "looks like a Kubernetes service link"),
    ],
)
def test_bad_settings_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")
    ):
        Config.from_sources(environ)


def test_cli_reports_bad_config_without_a_traceback(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("MAPSRV_PORT", "nope")
    assert main(["serve"]) == 2
    assert "mapsrv: Config 'port' has value 'nope'" in capsys.readouterr().err


def test_help_documents_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    helps = {}
    for command in ("serve", "stdio"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = capsys.readouterr().out
    for name in Config.__dataclass_fields__:
        for command in ("stdio",) if name in STDIO_ONLY else ("serve", "stdio"):
            assert "--" + name.replace("_", "-") in helps[command]
            assert "MAPSRV_" + name.upper() in helps[command]
    assert "--server " not in helps["serve"]  # settings only stdio reads are not offered to serve


def test_the_gateways_variables_are_left_to_the_gateway() -> None:
    config = Config.from_sources({"MAPSRV_GATEWAY_PORT": "9000", "MAPSRV_PORT": "8100"})
    assert config.port == 8100
