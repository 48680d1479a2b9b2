"""Exact money: amounts are integers in the currency's minor unit, never floats.

Currency codes and their number of decimals come from Babel's CLDR data, so there is no
hand-written currency table to drift out of date.

Input text is parsed by our own grammar rather than handed to ``Decimal()``: ``Decimal``
also accepts ``1_000``, non-ASCII digits, ``Infinity`` and ``nan``, and turning a huge
exponent into an integer would allocate without bound. Every value is reduced to
(significant digits, exponent) and the limits are checked on the exponent first, so
``1e999999999`` is rejected in constant time and nothing is ever rounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Final

from babel.numbers import get_currency_precision, list_currencies
from pydantic import BeforeValidator, WithJsonSchema

from ledgerline.core.schemas import Published

__all__ = [
    "ACCEPTED_CURRENCIES",
    "AMOUNT_PATTERN",
    "MAX_FRACTION_DIGITS",
    "MAX_MAJOR_UNITS",
    "NOT_MONEY",
    "Amount",
    "MoneyError",
    "PublishedCurrency",
    "format_amount",
    "max_minor",
    "minor_digits",
    "normalize_currency",
    "parse_amount",
    "to_minor",
]

MAX_MAJOR_UNITS: Final = 999_999_999_999
_MAX_INTEGER_DIGITS: Final = len(str(MAX_MAJOR_UNITS))


class MoneyError(ValueError):
    """An amount or currency the user sent is not acceptable; the message is user-facing."""


_CURRENCY_SHAPE = re.compile(r"[A-Z]{3}")
NOT_MONEY: Final = frozenset({"XXX", "XTS"})
"""Codes ISO 4217 reserves for "no currency" and for testing: known, but no one's money."""


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


ACCEPTED_CURRENCIES: Final = tuple(sorted(_known_currencies() - NOT_MONEY))
"""Every code a request may carry, in order (published in the OpenAPI document)."""
_ACCEPTED: Final = frozenset(ACCEPTED_CURRENCIES)
PublishedCurrency: Final = Published(
    {"enum": list(ACCEPTED_CURRENCIES), "description": "ISO 4217 code (not XXX or XTS)"},
    drop=("minLength", "maxLength"),
)
"""The accepted codes as an enum in the OpenAPI document (requests also take lower case)."""


def _canonical(code: object, known: frozenset[str]) -> str:
    if not isinstance(code, str):
        raise MoneyError("is not a known ISO 4217 currency code")
    candidate = code.strip().upper()
    if not _CURRENCY_SHAPE.fullmatch(candidate) or candidate not in known:
        raise MoneyError("is not a known ISO 4217 currency code")
    return candidate


def normalize_currency(code: str) -> str:
    """The canonical upper-case code of a currency a request may use; raise for codes CLDR does
    not know and for those that are not money (``NOT_MONEY``)."""
    return _canonical(code, _ACCEPTED)


@lru_cache(maxsize=512)
def minor_digits(currency: str) -> int:
    """Decimals of the currency's minor unit (USD 2, JPY 0, KWD 3, CLF 4).

    The code is validated first because Babel silently answers 2 for codes it does not know;
    any code CLDR knows passes, so figures stored before a code was refused still read.
    """
    return get_currency_precision(_canonical(currency, _known_currencies()))


def max_minor(currency: str) -> int:
    """Largest accepted amount in minor units: MAX_MAJOR_UNITS plus the largest fraction."""
    scale: int = 10 ** minor_digits(currency)
    return (MAX_MAJOR_UNITS + 1) * scale - 1


MAX_FRACTION_DIGITS: Final = max(get_currency_precision(c) for c in _known_currencies())
"""Most decimals any known currency allows; the currency-independent bound for `Amount`."""


def _build_amount_pattern(integer_digits: int, fraction_digits: int) -> str:
    """Plain-notation positive amounts below 10**integer_digits with at most fraction_digits
    significant decimals (extra trailing zeros and leading zeros are allowed, as the parser
    accepts them). Zero is excluded without look-ahead so that regex-driven generators such as
    Hypothesis can use the pattern."""
    nonzero_integer = rf"0*[1-9][0-9]{{0,{integer_digits - 1}}}"
    fraction = rf"(?:\.[0-9]{{1,{fraction_digits}}}0*)?" if fraction_digits else r"(?:\.0+)?"
    small_fractions = "|".join(
        "0" * zeros + "[1-9]" + (rf"[0-9]{{0,{rest}}}" if rest else "")
        for zeros in range(fraction_digits)
        for rest in [fraction_digits - 1 - zeros]
    )
    below_one = rf"|0+\.(?:{small_fractions})0*" if fraction_digits else ""
    space = r"[ \t\n\r]*"
    return rf"^{space}(?:{nonzero_integer}{fraction}{below_one}){space}$"


AMOUNT_PATTERN: Final = _build_amount_pattern(_MAX_INTEGER_DIGITS, MAX_FRACTION_DIGITS)
"""Textual form of a request amount, as published in the OpenAPI document.

Exactly the plain-notation strings `Amount` accepts. Exponent notation ("1.5e2") is also
accepted by the parser but is deliberately not advertised."""

_NUMBER_TEXT = re.compile(
    r"[ \t\n\r]*(?P<sign>-?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?"
    r"(?:[eE](?P<exp_sign>[+-]?)(?P<exp>[0-9]+))?[ \t\n\r]*",
    re.ASCII,
)
_ABSURD_EXPONENT: Final = 10**18
"""Stand-in for exponents too long to convert to int cheaply; far outside every limit."""

_NOT_A_NUMBER_TYPE = "must be a decimal string or number"
_NOT_A_NUMBER_TEXT = "must be a decimal number"
_NOT_POSITIVE = "must be greater than 0"


def _parse_exponent(sign: str, digits: str) -> int:
    digits = digits.lstrip("0")
    magnitude = int(digits) if 0 < len(digits) <= 18 else (_ABSURD_EXPONENT if digits else 0)
    return -magnitude if sign == "-" else magnitude


def _positive_significand(value: object) -> tuple[str, int]:
    """Reduce a positive input to (digits, exponent), value == int(digits) * 10**exponent,
    with no leading or trailing zeros in digits."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise MoneyError(_NOT_A_NUMBER_TYPE)
    if isinstance(value, int):
        if value <= 0:
            raise MoneyError(_NOT_POSITIVE)
        if value >= 10**_MAX_INTEGER_DIGITS:
            return "1", _MAX_INTEGER_DIGITS
        negative, digits, exponent = False, str(value), 0
    elif isinstance(value, Decimal):
        sign, digit_tuple, decimal_exponent = value.as_tuple()
        if not isinstance(decimal_exponent, int):
            raise MoneyError(_NOT_A_NUMBER_TEXT)
        negative, digits, exponent = bool(sign), "".join(map(str, digit_tuple)), decimal_exponent
    else:
        match = _NUMBER_TEXT.fullmatch(value)
        if match is None:
            raise MoneyError(_NOT_A_NUMBER_TEXT)
        fraction = match["frac"] or ""
        negative = match["sign"] == "-"
        digits = match["int"] + fraction
        exponent = _parse_exponent(match["exp_sign"], match["exp"] or "") - len(fraction)
    significant = digits.lstrip("0").rstrip("0")
    if negative or not significant:
        raise MoneyError(_NOT_POSITIVE)
    exponent += len(digits.lstrip("0")) - len(significant)
    return significant, exponent


def _checked_significand(
    value: object, fraction_digits: int, too_precise: str, too_large: str
) -> tuple[str, int]:
    digits, exponent = _positive_significand(value)
    if exponent < -fraction_digits:
        raise MoneyError(too_precise)
    if len(digits) + exponent > _MAX_INTEGER_DIGITS:
        raise MoneyError(too_large)
    return digits, exponent


def parse_amount(value: object, currency: str) -> int:
    """Exact positive amount in minor units from decimal text, a Decimal or an int.

    Floats and bools are refused; excess decimals are an error, never rounded.
    """
    currency = normalize_currency(currency)
    places = minor_digits(currency)
    digits, exponent = _checked_significand(
        value,
        places,
        too_precise=f"has more decimals than {currency} allows ({places})",
        too_large=f"must be at most {format_amount(max_minor(currency), currency)}",
    )
    scale: int = 10 ** (exponent + places)
    return int(digits) * scale


def to_minor(value: Decimal, currency: str) -> int:
    """Currency-specific second step for a value that already passed `Amount`."""
    if not isinstance(value, Decimal):
        raise MoneyError(_NOT_A_NUMBER_TYPE)
    return parse_amount(value, currency)


def format_amount(minor: int, currency: str) -> str:
    """Plain decimal text with exactly the currency's decimals: (123450, "USD") -> "1234.50"."""
    return amount_formatter(currency)(minor)


@lru_cache(maxsize=512)
def amount_formatter(currency: str) -> Callable[[int], str]:
    """``format_amount`` for one currency, its decimals looked up once (long series of
    figures)."""
    places = minor_digits(currency)
    unit = 10**places

    def format_minor(minor: int) -> str:
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise TypeError("minor must be an int")
        sign = "-" if minor < 0 else ""
        whole, fraction = divmod(abs(minor), unit)
        if not places:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{places}d}"

    return format_minor


def _validate_amount(value: object) -> Decimal:
    digits, exponent = _checked_significand(
        value,
        MAX_FRACTION_DIGITS,
        too_precise=f"has more decimals than any currency allows ({MAX_FRACTION_DIGITS})",
        too_large=(
            f"must be at most {MAX_MAJOR_UNITS}"
            + (f".{'9' * MAX_FRACTION_DIGITS}" if MAX_FRACTION_DIGITS else "")
        ),
    )
    if exponent > 0:
        digits, exponent = digits + "0" * exponent, 0
    return Decimal((0, tuple(int(d) for d in digits), exponent))


Amount = Annotated[
    Decimal,
    BeforeValidator(_validate_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "exclusiveMaximum": MAX_MAJOR_UNITS + 1,
                },
            ],
            "description": (
                "Positive amount in major units, as a decimal string (preferred, exact) or a "
                "JSON number. The currency decides how many decimals are allowed."
            ),
            "examples": ["1234.50"],
        },
        mode="validation",
    ),
]
"""Request-body amount: the exact positive Decimal as sent (normalized, never rounded).

Only currency-independent checks happen here; convert with `to_minor` once the currency is
known."""
