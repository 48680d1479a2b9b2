"""Money and dates for the reader's language (``Accept-Language``), through Babel only."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
)

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


_SAMPLE = Decimal("1234567.5")


@dataclass(frozen=True, slots=True)
class _CurrencyStyle:
    """How a locale writes one currency, read once from Babel: what goes around the number for
    positive and negative amounts, its separators and its decimals."""

    positive: tuple[str, str]
    negative: tuple[str, str]
    group: str
    decimal: str
    digits: int

    def apply(self, amount: Decimal) -> str:
        plain = f"{abs(amount):,.{self.digits}f}"
        number = plain.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)
        before, after = self.negative if amount.is_signed() else self.positive
        return f"{before}{number}{after}"


def _around(text: str, number: str) -> tuple[str, str]:
    before, _, after = text.partition(number)
    return before, after


@functools.lru_cache(maxsize=512)
def _currency_style(currency: str, locale: str) -> _CurrencyStyle | None:
    """The style, when Babel's own answer for sample amounts matches it exactly; ``None`` for a
    locale whose grouping is not by threes (such as India's), which stays with Babel."""
    digits = get_currency_precision(currency)
    number = format_decimal(
        _SAMPLE, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=locale
    )
    positive = format_currency(_SAMPLE, currency, locale=locale)
    negative = format_currency(-_SAMPLE, currency, locale=locale)
    if number not in positive or number not in negative:
        return None
    style = _CurrencyStyle(
        positive=_around(positive, number),
        negative=_around(negative, number),
        group=get_group_symbol(locale),
        decimal=get_decimal_symbol(locale),
        digits=digits,
    )
    checks = (_SAMPLE, -_SAMPLE, Decimal("0.05"), Decimal(-12), Decimal("98765432109.99"))
    if any(
        style.apply(value) != format_currency(value, currency, locale=locale) for value in checks
    ):
        return None
    return style


def money(amount: str | Decimal | int, currency: str, locale: str) -> str:
    """A decimal amount with its currency, as the locale writes it (``$1,234.50``).

    Babel decides the format; the common case is applied from a cached template because a
    page such as a year of days shows a thousand amounts, and Babel takes tens of microseconds
    for each."""
    try:
        value = Decimal(amount)
        style = _currency_style(currency, locale)
        if style is not None and value == value.quantize(Decimal(1).scaleb(-style.digits)):
            return style.apply(value)
        return format_currency(value, currency, locale=locale)
    except (ValueError, ArithmeticError):
        return f"{amount} {currency}"


def number(value: int | str | Decimal, locale: str) -> str:
    return format_decimal(Decimal(value), locale=locale)


def day(value: dt.date, locale: str) -> str:
    return format_date(value, "medium", locale=locale)


def moment(value: dt.datetime, locale: str) -> str:
    return format_datetime(value, "medium", tzinfo=dt.UTC, locale=locale)
