"""Text rules that must behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from ledgerline.core.schemas import Published

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


_ALLOWED = r"[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]"
_VISIBLE = r"[^\s\u0000-\u0008\u000b-\u001f\u007f-\u009f]"
CLEAN_TEXT_PATTERN = rf"^{_ALLOWED}*$"
"""``CONTROL_CHARACTERS`` as published in the OpenAPI document: text without them."""
NON_BLANK_TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"
"""Text without control characters that is not blank (names, categories: trimmed on input)."""
PublishedCleanText = Published({"pattern": CLEAN_TEXT_PATTERN})
PublishedNonBlankText = Published({"pattern": NON_BLANK_TEXT_PATTERN})

CleanText = Annotated[str, AfterValidator(reject_control_characters), PublishedCleanText]
"""Free text: control characters other than tab and newline are rejected, NUL and C1
included."""


def _reject_control_characters_before_trimming(value: object) -> object:
    return reject_control_characters(value) if isinstance(value, str) else value


RejectControlCharacters = BeforeValidator(_reject_control_characters_before_trimming)
"""For text that is trimmed on input: Python counts U+0085 (a C1 control) as whitespace, so
a check after trimming would let one at either end through."""
