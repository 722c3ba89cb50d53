"""``mapsrv.mcp.answer_bytes`` writes a tool's answer with the text already made in place of its
structured content, and gets the bytes the whole would be written as: ``json.dumps`` for a
2026-07-28 answer (or says it cannot, and the direct path writes it whole), pydantic-core's
``to_json`` in a session (or the same refusal), for generated contents in every script, with the
numbers and keys each encoder writes its own way, and any request id, the mark itself included.
Pure code: the encoders are the witness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from mcp.types import CallToolResult, TextContent
from pydantic_core import PydanticSerializationError, to_json

from mapsrv.mcp import answer_bytes
from mapsrv.mcp.result_layout import ResultShapes
from mapsrv.mcp.tools.results import answer, written_answer, written_json

SEPARATORS = (",", ":")
SHAPES = ResultShapes({"name": "mapsrv", "version": "0"})
ERAS = ["2026-07-28", "2025-11-25"]

every_character = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())
texts = st.text(every_character, max_size=10) | st.sampled_from(["e-", "1e-", "0.0000", "\x7f", "é", "東"])
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1e-5, 1.5e-7, 1e16, -0.0])
scalars = st.none() | st.booleans() | st.integers() | floats | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts | st.none(), inner, max_size=4),
    max_leaves=16,
)
contents = st.dictionaries(texts, values, max_size=5)
ids = st.integers() | texts | st.sampled_from([answer_bytes._MARK, answer_bytes._TEXT, answer_bytes._ID])


def _whole(request_id: Any, member: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, **member}


def _session_bytes(request_id: Any, member: dict[str, Any], text: str | None, structured: Any) -> bytes | str:
    """What ``in_session`` writes, or the name of the refusal it raises."""
    try:
        return answer_bytes.in_session(request_id, member, text, structured)
    except PydanticSerializationError:
        return "refused"


def _sdk_session_bytes(request_id: Any, member: dict[str, Any]) -> bytes | str:
    try:
        return to_json(_whole(request_id, member))
    except PydanticSerializationError:
        return "refused"


@settings(max_examples=1500, deadline=None)
@given(contents, ids, st.sampled_from(ERAS))
@example({"label": "Zürich", "at": [47.37, 8.54]}, 7, "2026-07-28")
@example({"label": "del\x7f", "at": [1e-05, 3e-05]}, "r-1", "2025-11-25")
@example({"k": "\ud800"}, 1, "2025-11-25")
@example({"k": answer_bytes._MARK}, answer_bytes._MARK, "2026-07-28")
@example({"k": answer_bytes._TEXT}, answer_bytes._TEXT, "2025-11-25")
@example({"k": answer_bytes._ID, answer_bytes._MARK: 1}, answer_bytes._ID, "2026-07-28")
@example({"k": 'a "quoted" \\ text\n'}, 3, "2026-07-28")
@example({"a": {None: 1}}, 2, "2025-11-25")
def test_the_bytes_of_the_whole_answer(content: dict[str, Any], request_id: Any, version: str) -> None:
    result = answer(content)
    text = written_json(result)
    assert text == json.dumps(content, separators=SEPARATORS, ensure_ascii=False)
    status, member = SHAPES(version, result)
    assert status == 200
    expected = json.dumps(_whole(request_id, member), separators=SEPARATORS).encode()
    modern = answer_bytes.modern(request_id, member, text, result.structured_content)
    if modern is None:  # written whole by the direct path
        assert not text.isascii() or "\x7f" in text or request_id in (answer_bytes._MARK, answer_bytes._TEXT)
    else:
        assert modern == expected
    layout = SHAPES.layout(version)
    assert layout is not None and layout.one_text(member["result"])
    for _ in range(2):  # its skeleton written, then used
        laid = answer_bytes.modern(request_id, member, text, result.structured_content, layout)
        assert laid == expected if text.isascii() and "\x7f" not in text else laid is None
    session = _session_bytes(request_id, member, text, result.structured_content)
    assert session == _sdk_session_bytes(request_id, member)


def test_only_the_last_answer_made_is_known_by_its_text() -> None:
    """A result is known (its text is its content's JSON) only as the last answer made; another
    result, with the same text and content, or an older answer, is written whole."""
    first = answer({"a": 1})
    assert written_json(first) == '{"a":1}'
    second = answer({"b": 2})
    assert written_json(first) is None and written_json(second) == '{"b":2}'
    alike = CallToolResult(content=[TextContent(type="text", text='{"b":2}')], structured_content={"b": 2})
    assert written_json(alike) is None
    other_text = CallToolResult(content=[TextContent(type="text", text="three")], structured_content={"c": 3})
    assert written_json(other_text) is None
    written = written_answer({"d": 4}, '{"d":4}')  # its JSON, written before
    assert written_json(written) == '{"d":4}' and written_json(other_text) is None


@pytest.mark.parametrize("version", ERAS)
def test_a_result_dumped_again_is_not_spliced(version: str) -> None:  # nor put in a layout's skeleton
    """The text stands in only for the structured content the layout placed itself: a result
    laid out by ``ResultShapes.exact`` (dumped and passed through the version's sieve) is written
    from what it holds."""
    result = answer({"k": [1, 2.5]})
    text = written_json(result)
    _, member = SHAPES.exact(version, result)
    copied = member["result"]["structuredContent"]
    assert copied == result.structured_content and copied is not result.structured_content
    member["result"]["structuredContent"] = {"k": "changed"}
    assert text is not None and answer_bytes.modern(1, member, text, result.structured_content) is None
    SHAPES(version, result)  # its layout learned
    layout = SHAPES.layout(version)
    assert (
        layout is not None and answer_bytes.modern(1, member, text, result.structured_content, layout) is None
    )
    session = answer_bytes.in_session(1, member, text, result.structured_content)
    assert b'"changed"' in session and session == to_json(_whole(1, member))


def test_only_a_member_its_layout_filled_takes_its_skeleton() -> None:
    """A member whose parts are not all the layout's own (another stamp, an error flag that is not
    a boolean, two texts, another text, keys in another order) is written from what it holds."""
    version = "2026-07-28"
    result = answer({"k": [1, 2.5]})
    text = written_json(result)
    _, member = SHAPES(version, result)
    layout = SHAPES.layout(version)
    assert layout is not None and text is not None
    laid = member["result"]

    def written(changed: dict[str, Any]) -> bytes | None:
        return answer_bytes.modern(5, {"result": changed}, text, result.structured_content, layout)

    stamped = {**laid, "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "other", "version": "9"}}}
    assert written(stamped) == json.dumps(_whole(5, {"result": stamped}), separators=SEPARATORS).encode()
    assert b'"other"' in (written(stamped) or b"")
    assert not layout.one_text({**laid, "isError": 0})
    two = {**laid, "content": [*laid["content"], {"text": "b", "type": "text"}]}
    assert not layout.one_text(two) and written(two) is None
    reordered = dict(reversed(list(laid.items())))
    assert not layout.one_text(reordered)
    other_text = {**laid, "content": [{"text": "{}", "type": "text"}]}
    assert written(other_text) is None
    assert written(laid) == json.dumps(_whole(5, member), separators=SEPARATORS).encode()
