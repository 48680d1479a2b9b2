"""The fixed list of date formats a mapping may name, and reading dates by one of them.

Formats are never guessed where a file is ambiguous: ``candidates`` answers every format
that reads all the samples, and the caller reports more than one as a choice to make.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Final, Literal, get_args

from ledgerline.core.schemas import MAX_DATE, MIN_DATE

DateFormat = Literal[
    "YYYY-MM-DD",
    "DD.MM.YYYY",
    "DD/MM/YYYY",
    "MM/DD/YYYY",
    "DD-MM-YYYY",
    "YYYYMMDD",
    "DD/MM/YY",
    "MM/DD/YY",
    "DD MMM YYYY",
    "MMM DD, YYYY",
]
DATE_FORMATS: Final[tuple[DateFormat, ...]] = get_args(DateFormat)
MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_D = r"(?P<d>[0-9]{1,2})"
_M = r"(?P<m>[0-9]{1,2})"
_Y4 = r"(?P<y>[0-9]{4})"
_Y2 = r"(?P<y>[0-9]{2})"
_MMM = r"(?P<mon>[A-Za-z]{3})[A-Za-z]*\.?"
_TIME = (
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"\s*(?:[AaPp][Mm]|Z|[+-][0-9:]{2,5})?)?"
)
_BODIES: Final[dict[DateFormat, str]] = {
    "YYYY-MM-DD": rf"{_Y4}-{_M}-{_D}",
    "DD.MM.YYYY": rf"{_D}\.{_M}\.{_Y4}",
    "DD/MM/YYYY": rf"{_D}/{_M}/{_Y4}",
    "MM/DD/YYYY": rf"{_M}/{_D}/{_Y4}",
    "DD-MM-YYYY": rf"{_D}-{_M}-{_Y4}",
    "YYYYMMDD": r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})",
    "DD/MM/YY": rf"{_D}/{_M}/{_Y2}",
    "MM/DD/YY": rf"{_M}/{_D}/{_Y2}",
    "DD MMM YYYY": rf"{_D}[ -]{_MMM}[ -]{_Y4}",
    "MMM DD, YYYY": rf"{_MMM} {_D},? {_Y4}",
}
_PATTERNS: Final = {name: re.compile(rf"\A{body}{_TIME}\Z") for name, body in _BODIES.items()}


def century(two_digits: int) -> int:
    """A two-digit year as POSIX ``strptime`` reads it: 00-68 are 2000-2068, 69-99 the 1900s."""
    return two_digits + (2000 if two_digits < 69 else 1900)


def checked_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        value = dt.date(year, month, day)
    except ValueError:
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


@lru_cache(maxsize=8_192)
def parse_date(text: str, date_format: DateFormat) -> dt.date | None:
    """The date ``text`` holds in ``date_format`` (a time after it ignored), else None."""
    match = _PATTERNS[date_format].match(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    if parts.get("mon") is not None:
        name = parts["mon"].lower()
        if name not in MONTHS:
            return None
        month = MONTHS.index(name) + 1
    else:
        month = int(parts["m"])
    year = int(parts["y"])
    return checked_date(century(year) if len(parts["y"]) == 2 else year, month, int(parts["d"]))


def candidates(samples: list[str]) -> list[DateFormat]:
    """Every format that reads each non-empty sample; several means the file is ambiguous."""
    values = [sample for sample in samples if sample.strip()]
    if not values:
        return []
    return [name for name in DATE_FORMATS if all(parse_date(v, name) for v in values)]
