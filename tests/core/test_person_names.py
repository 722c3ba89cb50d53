"""A person's display name: cleaned as shown (no control or bidi-override characters, whitespace
folded, at most 40 characters), a friendly default per browser, and a cookie that keeps any
script intact and cannot be used to smuggle cookie syntax."""

from __future__ import annotations

import pytest

from mapsrv.core.changes import MAX_PERSON_NAME, clean_name, person_actor, suggested_name
from mapsrv.errors import InvalidInput
from mapsrv.http.identity import NAME_COOKIE, name_cookie_header, name_from_cookies


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Ana", "Ana"),
        ("  Ana \n  Lima ", "Ana Lima"),
        ("Ana\u202eamiL", "Ana amiL"),  # a right-to-left override would reverse what follows
        ("Zoë 李 Ølholm", "Zoë 李 Ølholm"),
        ("x" * MAX_PERSON_NAME, "x" * MAX_PERSON_NAME),
    ],
)
def test_a_name_is_kept_as_it_will_be_shown(given: str, shown: str) -> None:
    assert clean_name(given) == shown


REFUSED = [
    ("", "visible"),
    ("\u200b\n", "visible"),
    ("x" * 41, "at most 40"),
    (None, "text"),
    (["Ana"], "text"),
]


@pytest.mark.parametrize(("given", "says"), REFUSED)
def test_a_name_that_cannot_be_shown_is_refused_saying_why(given: object, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        clean_name(given)


def test_the_default_name_is_friendly_and_the_same_for_the_same_browser() -> None:
    names = {suggested_name(f"user-{i}") for i in range(200)}
    assert suggested_name("user-1") == suggested_name("user-1")
    assert len(names) > 100 and all(len(n.split()) == 2 for n in names)


def test_the_chosen_name_is_what_changes_are_attributed_to() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"
    assert person_actor(ua, "u1", "Ana").name == "Ana"
    assert person_actor(ua, "u1").name == "Chrome on Linux"
    assert person_actor(ua, "u1", "Ana").id == person_actor(ua, "u1").id  # the same person to undo


def test_the_name_cookie_keeps_any_script_and_no_cookie_syntax() -> None:
    for name in ("Zoë 李", "a; Path=/x", 'Ana" = 1, b=2'):
        header = name_cookie_header(name, secure=False)
        value = header.split(";", 1)[0]
        assert value.startswith(NAME_COOKIE + "=") and ";" not in value and " " not in value
        assert name_from_cookies(f"other=1; {value}") == name
    assert name_from_cookies(f"{NAME_COOKIE}=%E2%80%AE") is None  # cleaned to nothing: no name
    assert name_from_cookies(None) is None and name_from_cookies("a=b") is None
