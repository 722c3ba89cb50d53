"""An agent's name with an access token (``mapsrv.mcp.agents.agent_name``): what the client calls
itself never hides the client its person approved (issue 44)."""

from __future__ import annotations

from mapsrv.core.changes import agent_actor
from mapsrv.http.tokens import Grant
from mapsrv.mcp.agents import agent_name


def grant(client_id: str = "", client_name: str = "") -> Grant:
    return Grant("oidc:ana", "ana", frozenset({"maps:write"}), client_id, "Ana Lima", 0.0, client_name)


def test_the_approved_client_is_always_named() -> None:
    assert agent_name("Claude", None) == "Claude", "no token: the client's own name, as before"
    assert agent_name("Claude", grant()) == "Claude", "a token that names no client"
    assert agent_name("Claude", grant("abc", "Trip Planner")) == "Claude (via Trip Planner)"
    assert agent_name("trip planner", grant("abc", "Trip Planner")) == "Trip Planner", "said once"
    assert agent_name(None, grant("abc", "Trip Planner")) == "Trip Planner"
    assert agent_name("x", grant("3f2a9c1e0b7d4e5f6a7b8c9d")) == "x (via client 3f2a9c1e0b7d…)"
    assert agent_name("x", grant("short-id")) == "x (via client short-id)"
    assert agent_name("x", grant("https://claude.ai/oauth/mcp.json")) == "x (via claude.ai)"


def test_a_long_made_up_name_cannot_push_the_approved_one_out() -> None:
    long = "Claude for Ben Okafor, the administrator of this server and all of its maps"
    named = agent_name(long, grant("abc", "evil script"), "Ana Lima")
    assert named is not None and named.endswith(" (via evil script)")
    shown = agent_actor(named, "secret", "Ana Lima").name
    assert shown.endswith("(via evil script) for Ana Lima"), shown
