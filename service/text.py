"""Folding of names for case- and accent-insensitive look-up."""

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
