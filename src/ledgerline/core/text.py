"""Text rules that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Refused in text: control characters other than tab and newline, NUL included, and the C1
range U+0080-U+009F (text decoded with the wrong code page, or terminal escapes)."""


def fold_key(text: str) -> str:
    """Case-insensitive comparison key (SQLite's lower() folds only ASCII, so we fold in Python)."""
    return unicodedata.normalize("NFC", text.strip()).casefold()


def has_control_characters(value: str) -> bool:
    """Control characters other than tab and newline, NUL and C1 included (PostgreSQL refuses
    NUL in text, even as a value to compare with)."""
    return CONTROL_CHARACTERS.search(value) is not None


def reject_control_characters(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


CleanText = Annotated[str, AfterValidator(reject_control_characters)]
"""Free text: control characters other than tab and newline are rejected, NUL and C1
included."""


def _reject_control_characters_before_trimming(value: object) -> object:
    return reject_control_characters(value) if isinstance(value, str) else value


RejectControlCharacters = BeforeValidator(_reject_control_characters_before_trimming)
"""For text that is trimmed on input: Python counts U+0085 (a C1 control) as whitespace, so
a check after trimming would let one at either end through."""
