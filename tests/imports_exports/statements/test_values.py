"""Amounts, dates and QIF dates as banks write them."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerline.imports_exports.statements import DATE_FORMATS, DateFormat
from ledgerline.imports_exports.statements.amounts import AmountError, parse_signed
from ledgerline.imports_exports.statements.dates import candidates, parse_date
from ledgerline.imports_exports.statements.formats.qif import qif_amount, qif_date

D = dt.date


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "currency", "minor"),
    [
        ("-3.50", ".", None, "EUR", -350),
        ("3,50-", ",", ".", "EUR", -350),
        ("(3.50)", ".", ",", "USD", -350),
        ("+1.234,56", ",", ".", "EUR", 123456),
        ("1 234,56", ",", " ", "EUR", 123456),
        ("1'234.5", ".", "'", "CHF", 123450),
        ("-1\u00a0234,56", ",", "\u00a0", "EUR", -123456),
        ("1500", ".", None, "JPY", 1500),
        ("0,00", ",", ".", "EUR", 0),
        ("12.345", ".", None, "KWD", 12345),
    ],
)
def test_amounts(text: str, decimal: str, thousands: str | None, currency: str, minor: int) -> None:
    result = parse_signed(text, currency, decimal_separator=decimal, thousands_separator=thousands)
    assert result == minor


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "message"),
    [
        ("3.50", ",", ".", "expected an amount like -1.234,56"),
        ("1,23,456.00", ".", ",", "expected an amount like"),
        ("3.505", ".", None, "more decimals than EUR allows"),
        ("-3.50-", ".", None, "expected an amount"),
        ("1e5", ".", None, "expected an amount"),
        ("", ".", None, "expected an amount"),
        ("9" * 14, ".", None, "must be at most"),
    ],
)
def test_amounts_refused(text: str, decimal: str, thousands: str | None, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_signed(text, "EUR", decimal_separator=decimal, thousands_separator=thousands)


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("2026-03-12", "YYYY-MM-DD", D(2026, 3, 12)),
        ("12.03.2026", "DD.MM.YYYY", D(2026, 3, 12)),
        ("3/1/2026", "MM/DD/YYYY", D(2026, 3, 1)),
        ("12-03-2026", "DD-MM-YYYY", D(2026, 3, 12)),
        ("20260312", "YYYYMMDD", D(2026, 3, 12)),
        ("12/03/26", "DD/MM/YY", D(2026, 3, 12)),
        ("12/03/69", "DD/MM/YY", D(1969, 3, 12)),
        ("03/12/68", "MM/DD/YY", D(2068, 3, 12)),
        ("12 Mar 2026", "DD MMM YYYY", D(2026, 3, 12)),
        ("12-SEP-2026", "DD MMM YYYY", D(2026, 9, 12)),
        ("Mar 12, 2026", "MMM DD, YYYY", D(2026, 3, 12)),
        ("2022-01-05 10:31:07", "YYYY-MM-DD", D(2022, 1, 5)),
        ("05.01.2022 10:31", "DD.MM.YYYY", D(2022, 1, 5)),
        ("01/05/2022 10:31 PM", "MM/DD/YYYY", D(2022, 1, 5)),
    ],
)
def test_dates(text: str, date_format: DateFormat, expected: dt.date) -> None:
    assert parse_date(text, date_format) == expected


@pytest.mark.parametrize(
    ("text", "date_format"),
    [
        ("2026-02-30", "YYYY-MM-DD"),
        ("13/13/2026", "DD/MM/YYYY"),
        ("1899-12-31", "YYYY-MM-DD"),
        ("12 Foo 2026", "DD MMM YYYY"),
        ("2026-03-12 later", "YYYY-MM-DD"),
    ],
)
def test_dates_refused(text: str, date_format: DateFormat) -> None:
    assert parse_date(text, date_format) is None


def test_candidates_report_every_format_that_fits() -> None:
    assert candidates(["03/12/2026", "04/11/2026"]) == ["DD/MM/YYYY", "MM/DD/YYYY"]
    assert candidates(["03/12/2026", "04/13/2026"]) == ["MM/DD/YYYY"]
    assert candidates(["", "2026-03-12"]) == ["YYYY-MM-DD"]
    assert candidates(["soon"]) == []
    assert len(DATE_FORMATS) == 10


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        ("03/12'26", None, D(2026, 3, 12)),
        ("3/12'26", None, D(2026, 3, 12)),
        ("12/ 1'26", None, D(2026, 12, 1)),
        (" 1/ 2'05", None, D(2005, 1, 2)),
        ("3/12/26", None, D(2026, 3, 12)),
        ("3/12/98", None, D(1998, 3, 12)),
        ("03-12-2026", None, D(2026, 3, 12)),
        ("03/12'26", "DD/MM/YY", D(2026, 12, 3)),
        ("03.12.2026", "DD.MM.YYYY", D(2026, 12, 3)),
        ("2026-12-03", "YYYY-MM-DD", D(2026, 12, 3)),
        ("13/12'26", None, None),
    ],
)
def test_qif_dates(text: str, date_format: DateFormat | None, expected: dt.date | None) -> None:
    assert qif_date(text, date_format) == expected


@pytest.mark.parametrize(
    ("text", "minor"),
    [("-1,234.56", -123456), ("-1.234,56", -123456), ("2,500", 250000), ("3,5", 350)],
)
def test_qif_amounts(text: str, minor: int) -> None:
    assert qif_amount(text, "USD") == minor
