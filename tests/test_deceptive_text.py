"""Text that displays as something other than what it holds is refused with 422 naming the field
and the code point: bidi controls, zero-width characters, C0 and C1 controls (tab and newline
are allowed in long text only), and blank titles."""

from __future__ import annotations

import pytest

from tests.conftest import error_fields
from tests.scenario import violation_body

DECEPTIVE = [
    ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("\u202a", "U+202A (LEFT-TO-RIGHT EMBEDDING)"),
    ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("\u2069", "U+2069 (POP DIRECTIONAL ISOLATE)"),
    ("\u200e", "U+200E (LEFT-TO-RIGHT MARK)"),
    ("\u200f", "U+200F (RIGHT-TO-LEFT MARK)"),
    ("\u061c", "U+061C (ARABIC LETTER MARK)"),
    ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
    ("\ufeff", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
    ("\u2060", "U+2060 (WORD JOINER)"),
    ("\x1b", "U+001B"),
    ("\r", "U+000D"),
    ("\x7f", "U+007F"),
    ("\x85", "U+0085"),
    ("\x9b", "U+009B"),
]


@pytest.mark.parametrize(("char", "named"), DECEPTIVE, ids=[n.split()[0] for _c, n in DECEPTIVE])
def test_deceptive_characters_in_a_title_are_refused(reporter, char, named):
    resp = reporter.post("/v1/violations", json=violation_body(title=f"Shelling{char} of Halfaya"))
    assert resp.status_code == 422, resp.get_json()
    assert named in error_fields(resp)["title"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "fine\u202eenif"}, "description"),
        ({"tags": ["ok", "bad\u200btag"]}, "tags.1"),
        ({"location": {"name": "Hal\x1b[31mfaya", "country": "SY"}}, "location.name"),
        ({"title": "Tab\tin a title"}, "title"),
        ({"title": "Line\nbreak in a title"}, "title"),
    ],
)
def test_every_text_field_is_checked(reporter, body, field):
    resp = reporter.post("/v1/violations", json=violation_body(**body))
    assert resp.status_code == 422, resp.get_json()
    assert field in error_fields(resp), error_fields(resp)


def test_long_text_may_hold_tabs_and_newlines(reporter):
    text = "First paragraph.\r\n\r\n\tIndented second paragraph, with Windows line ends."
    resp = reporter.post("/v1/violations", json=violation_body(description=text))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["description"] == text


def test_a_party_name_is_checked(reporter):
    body = {"id": "rlo-party", "name": "\u202eabc", "kind": "other"}
    party = reporter.post("/v1/parties", json=body)
    assert party.status_code == 422
    assert "U+202E" in error_fields(party)["name"]


@pytest.mark.parametrize("title", ["", " ", "   ", "\t", "\u00a0\u3000", " \n "])
def test_blank_titles_are_refused(reporter, title):
    resp = reporter.post("/v1/violations", json=violation_body(title=title))
    assert resp.status_code == 422, resp.get_json()
    assert "title" in error_fields(resp)


def test_ordinary_text_in_any_script_is_taken(reporter):
    title = "قصف حلفايا — Halfaya, 9 Nov (ZWNJ-free) 😀"
    resp = reporter.post("/v1/violations", json=violation_body(title=title))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["title"] == title


@pytest.mark.parametrize(
    "title",
    ["گزارش\u200cها از حلفایا", "नमस्\u200dते", "\U0001f469\u200d\U0001f4bb report"],
    ids=["persian-zwnj", "devanagari-zwj", "emoji-zwj"],
)
def test_joiners_that_scripts_need_are_taken(reporter, title):
    resp = reporter.post("/v1/violations", json=violation_body(title=title))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["title"] == title


def test_the_spec_says_which_characters_are_refused(app):
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    schemas = spec["components"]["schemas"]
    title = next(s for n, s in schemas.items() if n.startswith("ViolationCreate"))["properties"][
        "title"
    ]
    import re

    assert re.search(title["pattern"], "   ") is None  # blank
    refused = re.compile(title["not"]["pattern"])
    assert not refused.search("Shelling of Halfaya")
    for bad in ("a\u202eb", "a\tb", "a\x1bb", "a\u200bb", "a\nb"):
        assert refused.search(bad), bad
