"""Signed bank amounts as text, with the separators a bank writes, to exact minor units."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Final

from ledgerline.core.money import MAX_MAJOR_UNITS, MoneyError, minor_digits, parse_amount

_SIGNS: Final = re.compile(r"\A(?P<lead>[+-]?)\s*(?P<body>[^+-]*?)\s*(?P<trail>[+-]?)\Z")
_PARENTHESISED: Final = re.compile(r"\A\((?P<body>[^()]*)\)\Z")
_PLAIN: Final = re.compile(r"\A(-?)([0-9]{1,12})(?:[.,]([0-9]{1,4}))?\Z")
"""The common shape (``-3.50``, ``1234,5``), converted without the general grammar: statements
have hundreds of thousands of rows."""


def _plain(value: str, decimal_separator: str, currency: str) -> int | None:
    """Minor units of a plain signed amount, or None when ``value`` is not of that shape."""
    match = _PLAIN.match(value)
    if match is None:
        return None
    sign, whole, fraction = match.groups()
    if fraction is not None and value[-len(fraction) - 1] != decimal_separator:
        return None
    places = minor_digits(currency)
    fraction = fraction or ""
    if len(fraction) > places or int(whole) > MAX_MAJOR_UNITS:
        return None
    minor = int(whole + fraction.ljust(places, "0"))
    return -minor if sign else minor


class AmountError(ValueError):
    """Text that is not an amount; the message says what was expected."""


@lru_cache(maxsize=64)
def _grouped(decimal_separator: str, thousands_separator: str | None) -> re.Pattern[str]:
    decimal = re.escape(decimal_separator)
    fraction = rf"(?:{decimal}[0-9]+)?"
    if not thousands_separator:
        return re.compile(rf"\A[0-9]+{fraction}\Z")
    thousands = re.escape(thousands_separator)
    return re.compile(rf"\A(?:[0-9]{{1,3}}(?:{thousands}[0-9]{{3}})+|[0-9]+){fraction}\Z")


def example(decimal_separator: str, thousands_separator: str | None) -> str:
    return f"-1{thousands_separator or ''}234{decimal_separator}56"


def parse_signed(
    text: str,
    currency: str,
    *,
    decimal_separator: str = ".",
    thousands_separator: str | None = None,
) -> int:
    """Minor units of ``-1.234,56``-style text: a sign before or after the digits (or
    parentheses) makes it negative; thousands groups must be of three digits, so a
    misread separator is an error rather than an amount a hundred times too large."""
    value = text.strip()
    plain = _plain(value, decimal_separator, currency)
    if plain is not None:
        return plain
    value = value.replace("\u00a0", " ")
    if thousands_separator == "\u00a0":
        thousands_separator = " "
    negative = False
    parenthesised = _PARENTHESISED.match(value)
    if parenthesised is not None:
        value, negative = parenthesised["body"].strip(), True
    expected = f"expected an amount like {example(decimal_separator, thousands_separator)}"
    signs = _SIGNS.match(value)
    if signs is None or (signs["lead"] and signs["trail"]) or not signs["body"]:
        raise AmountError(expected)
    negative = negative or "-" in (signs["lead"], signs["trail"])
    body = signs["body"]
    if not _grouped(decimal_separator, thousands_separator).match(body):
        raise AmountError(expected)
    if thousands_separator:
        body = body.replace(thousands_separator, "")
    number = body.replace(decimal_separator, ".")
    if Decimal(number) == 0:
        return 0
    try:
        minor = parse_amount(number, currency)
    except MoneyError as exc:
        raise AmountError(str(exc)) from exc
    return -minor if negative else minor


def decimal_to_minor(value: Decimal, currency: str) -> int:
    """A signed Decimal (as a parsing library hands it) in minor units, exactly."""
    if value == 0:
        return 0
    try:
        minor = parse_amount(abs(value), currency)
    except MoneyError as exc:
        raise AmountError(str(exc)) from exc
    return -minor if value < 0 else minor
