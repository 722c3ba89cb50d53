"""The Quart-Trio app (pages, the JSON API, probes, static files), one blueprint per concern."""

from mapsrv.web.app import create_app, error_response, security_headers
from mapsrv.web.static import find_static_dir

__all__ = ["create_app", "error_response", "find_static_dir", "security_headers"]
