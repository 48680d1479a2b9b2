"""Money and dates as the reader's language writes them: Babel's answer, always."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from ledgerline.web import formatting

LOCALES = ["en_US", "de_DE", "fr_FR", "en_IN", "ja_JP", "ar_EG", "de_CH", "fa_IR", "he_IL"]
CURRENCIES = ["USD", "EUR", "JPY", "BHD", "INR", "CHF"]


@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False),
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(CURRENCIES),
)
def test_money_is_what_babel_writes(amount: Decimal, locale: str, currency: str) -> None:
    assert formatting.money(str(amount), currency, locale) == format_currency(
        amount, currency, locale=locale
    )


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en_US"),
        ("de-DE,de;q=0.9,en;q=0.8", "de_DE"),
        ("xx, fr;q=0.5", "fr"),
        ("en;q=0.1, ja;q=0.9", "ja"),
        ("*", "en_US"),
    ],
)
def test_the_locale_is_the_first_known_language_by_weight(header: str | None, locale: str) -> None:
    assert formatting.locale_for(header) == locale
