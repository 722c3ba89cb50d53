"""What an MCP client is told about tokens here: the scopes (``maps:read``, ``maps:write``), the
``WWW-Authenticate`` challenge of a refusal, and the protected resource metadata (RFC 9728)."""

from __future__ import annotations

from typing import Any

__all__ = ["READ", "SCOPES", "WRITE", "bearer_challenge", "resource_metadata"]

READ, WRITE = "maps:read", "maps:write"
SCOPES = (READ, WRITE)


def bearer_challenge(metadata_url: str, error: str | None = None, description: str | None = None) -> str:
    """The ``WWW-Authenticate`` value (RFC 6750 and RFC 9728): where the resource's metadata is,
    the scopes it takes, and why this request was refused. Without ``error`` (the request sent no
    token) there is no error information at all (RFC 6750 section 3.1), only the scope hint the MCP
    spec asks for."""
    parts = [f'resource_metadata="{metadata_url}"']
    if error:
        parts.append(f'error="{error}"')
    parts.append(f'scope="{" ".join(SCOPES)}"')  # what a token needs here: both, to read and write
    if error and description:
        parts.append('error_description="' + description.replace("\\", "").replace('"', "'")[:200] + '"')
    return "Bearer " + ", ".join(parts)


def resource_metadata(resource: str, issuer: str) -> dict[str, Any]:
    """RFC 9728 protected resource metadata for mapsrv's MCP endpoint."""
    return {
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": list(SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "mapsrv",
    }
