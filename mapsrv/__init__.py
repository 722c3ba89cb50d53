"""mapsrv: a live map that AI agents draw on through MCP while people watch in a browser."""

__version__ = "0.1.0"

__all__ = ["__version__"]
