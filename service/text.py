"""Folding of names for case- and accent-insensitive look-up; formula-safe export cells."""

import re

from unidecode import unidecode

_APOSTROPHES = re.compile(r"['`\u2018\u2019\u02bb\u02bc\u02be\u02bf]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """'Hay’at Taḥrīr al-Shām' -> 'hayat tahrir al sham'.

    Apostrophes and ayn/hamza marks vanish rather than split a word, since transliterations of
    the same name differ exactly there.
    """
    ascii_text = unidecode(text or "")
    ascii_text = _APOSTROPHES.sub("", ascii_text).casefold()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What makes a spreadsheet (Excel, LibreOffice, Google Sheets) take a cell for a formula, after
# OWASP's CSV injection guidance. The CSV and HXL exports apply it in Python (formula_safe) and,
# on PostgreSQL, in SQL (core.query._pg_formula_safe), from this one tuple.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str | None) -> str | None:
    """A text cell as a spreadsheet shows text: `'` before one that starts with = + - @, a tab or
    a carriage return, so that an analyst who opens an export never runs what a reporter wrote
    (=HYPERLINK(...), +cmd|...). Spreadsheets hide the quote; the JSON formats keep the text as
    stored."""
    if text and text.startswith(FORMULA_START):
        return "'" + text
    return text
