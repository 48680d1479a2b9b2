"""Money and dates for the reader's language (``Accept-Language``), through Babel only."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

DEFAULT_LOCALE = "en_US"
_MAX_LANGUAGES = 8


@functools.lru_cache(maxsize=256)
def locale_for(accept_language: str | None) -> str:
    """The first language of the header Babel knows, by preference weight; else ``en_US``."""
    if not accept_language:
        return DEFAULT_LOCALE
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:_MAX_LANGUAGES]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*":
            weighted.append((-weight, index, tag))
    for _weight, _index, tag in sorted(weighted):
        try:
            return str(Locale.parse(tag.replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return DEFAULT_LOCALE


def money(amount: str | Decimal | int, currency: str, locale: str) -> str:
    """A decimal amount with its currency, as the locale writes it (``$1,234.50``)."""
    try:
        return format_currency(Decimal(amount), currency, locale=locale)
    except (ValueError, ArithmeticError):
        return f"{amount} {currency}"


def number(value: int | str | Decimal, locale: str) -> str:
    return format_decimal(Decimal(value), locale=locale)


def day(value: dt.date, locale: str) -> str:
    return format_date(value, "medium", locale=locale)


def moment(value: dt.datetime, locale: str) -> str:
    return format_datetime(value, "medium", tzinfo=dt.UTC, locale=locale)
