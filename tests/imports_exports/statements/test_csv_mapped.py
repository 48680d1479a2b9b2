"""Bank CSVs in the layouts banks export, each read through its mapping."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from ledgerline.imports_exports.statements import CsvMapping, StatementError
from tests.imports_exports.statements.helpers import example, read, summary

D = dt.date


def mapping(**fields: Any) -> CsvMapping:
    return CsvMapping.model_validate(fields)


US = mapping(
    date_column="Date",
    date_format="MM/DD/YYYY",
    amount_column="Amount",
    description_columns=["Description"],
)


def test_signed_amount_with_pending_and_empty_rows_skipped() -> None:
    file = read(example("bank-us.csv"), currency="USD", mapping=US)
    assert file.format == "csv"
    assert summary(file) == [
        (D(2026, 3, 12), -350, "Blue Bottle Coffee"),
        (D(2026, 3, 12), -350, "Blue Bottle Coffee"),
        (D(2026, 3, 13), 250000, "ACME Corp, payroll"),
    ]
    assert file.skipped == 2
    assert [row.line for row in file.rows] == [2, 3, 4]


def test_debit_and_credit_columns() -> None:
    uk = mapping(
        date_column="Date",
        date_format="DD/MM/YYYY",
        debit_column="Paid out",
        credit_column="Paid in",
        thousands_separator=",",
        description_columns=["Description"],
    )
    file = read(example("bank-debit-credit.csv"), currency="GBP", mapping=uk)
    assert summary(file) == [
        (D(2026, 3, 12), -123456, "TESCO STORES 2041"),
        (D(2026, 3, 13), 250000, "ACME LTD SALARY"),
        (D(2026, 3, 14), -12000, "COUNCIL TAX"),
    ]
    assert {row.currency for row in file.rows} == {"GBP"}


def test_semicolons_decimal_comma_cp1252_preamble_and_extra_columns() -> None:
    german = mapping(
        delimiter=";",
        encoding="cp1252",
        skip_rows=3,
        date_column="Buchungstag",
        date_format="DD.MM.YYYY",
        amount_column="Betrag",
        decimal_separator=",",
        thousands_separator=".",
        description_columns=["Empfänger", "Verwendungszweck"],
        currency_column="Währung",
    )
    file = read(example("bank-de-cp1252.csv"), currency=None, mapping=german)
    assert summary(file) == [
        (D(2026, 3, 12), -350, "Bäckerei Müller / Brötchen"),
        (D(2026, 3, 13), 250000, "ACME GmbH / Gehalt März"),
        (D(2026, 3, 14), -123456, "Stadtwerke Köln / Abschlag Strom"),
    ]
    assert file.skipped == 1
    assert file.statements[0].currency == "EUR"


def test_the_encoding_is_detected_when_the_mapping_does_not_name_it() -> None:
    german = mapping(
        delimiter=";",
        skip_rows=3,
        date_column="buchungstag",
        date_format="DD.MM.YYYY",
        amount_column="Betrag",
        decimal_separator=",",
        thousands_separator=".",
        description_columns=["Empfänger"],
    )
    file = read(example("bank-de-cp1252.csv"), mapping=german)
    assert file.rows[0].description == "Bäckerei Müller"


def test_tab_separated_with_a_direction_column() -> None:
    dutch = mapping(
        delimiter="\t",
        date_column="Datum",
        date_format="YYYYMMDD",
        amount_column="Bedrag (EUR)",
        direction_column="Af Bij",
        debit_values=["Af"],
        decimal_separator=",",
        description_columns=["Naam / Omschrijving", "Mededelingen"],
    )
    file = read(example("bank-nl.tsv"), mapping=dutch)
    assert [(row.date, row.amount_minor) for row in file.rows] == [
        (D(2026, 3, 12), -350),
        (D(2026, 3, 13), 250000),
        (D(2026, 3, 14), -123456),
    ]


def test_negative_is_income_on_card_statements() -> None:
    data = b"Date,Amount,Merchant,Category,Id\n2026-03-01,12.50,Bookshop,Books,T1\n"
    card = mapping(
        date_column="Date",
        date_format="YYYY-MM-DD",
        amount_column="Amount",
        negative_is="income",
        description_columns=["Merchant"],
        category_column="Category",
        external_id_column="Id",
    )
    (row,) = read(data, mapping=card).rows
    assert (row.amount_minor, row.type, row.category, row.bank_id) == (
        -1250,
        "expense",
        "Books",
        "T1",
    )


def test_no_header_columns_by_position_and_times_ignored() -> None:
    data = b"2022-01-05 10:31:07|-3.50|Coffee\n2022-01-06T08:00:00|4|Refund\n"
    positional = mapping(
        delimiter="|",
        has_header=False,
        date_column=0,
        date_format="YYYY-MM-DD",
        amount_column=1,
        description_columns=[2],
    )
    assert summary(read(data, mapping=positional)) == [
        (D(2022, 1, 5), -350, "Coffee"),
        (D(2022, 1, 6), 400, "Refund"),
    ]


class TestErrorsNameTheRow:
    def test_a_date_in_another_format(self) -> None:
        data = b"Date,Description,Amount\n03/12/2026,Coffee,-3.50\n2026-03-13,Tea,-2.00\n"
        with pytest.raises(StatementError, match=r"line 3: date: expected MM/DD/YYYY"):
            read(data, mapping=US)

    def test_an_amount_with_a_misread_separator(self) -> None:
        data = b'Date,Description,Amount\n03/12/2026,Coffee,"3,50"\n'
        with pytest.raises(StatementError, match=r"line 2: amount: expected an amount like"):
            read(data, mapping=US)

    def test_a_column_missing_from_the_header(self) -> None:
        data = b"Datum,Text,Betrag\n03/12/2026,Coffee,-3.50\n"
        with pytest.raises(StatementError, match=r"line 1: expected a column 'Date'"):
            read(data, mapping=US)

    def test_a_short_row(self) -> None:
        data = b"Date,Description,Amount\n03/12/2026,Coffee\n"
        with pytest.raises(StatementError, match=r"line 2: expected the amount in column 3"):
            read(data, mapping=US)

    def test_both_debit_and_credit(self) -> None:
        data = b"Date,Out,In\n2026-03-01,1.00,2.00\n"
        both = mapping(
            date_column="Date", date_format="YYYY-MM-DD", debit_column="Out", credit_column="In"
        )
        with pytest.raises(StatementError, match=r"line 2: .*either the debit or the credit"):
            read(data, mapping=both)

    def test_a_transaction_id_longer_than_a_record_holds(self) -> None:
        data = b"Date,Amount,Id\n2026-03-01,1.00,ok\n2026-03-02,1.00," + b"x" * 256 + b"\n"
        with_id = mapping(
            date_column="Date", date_format="YYYY-MM-DD", amount_column="Amount",
            external_id_column="Id",
        )  # fmt: skip
        with pytest.raises(StatementError, match=r"line 3: transaction id: expected at most 255"):
            read(data, mapping=with_id)

    def test_a_category_with_control_characters(self) -> None:
        data = b"Date,Amount,Cat\n2026-03-01,1.00,Food\x1b[31m\n2026-03-02,1.00,ok\n"
        with_category = mapping(
            date_column="Date", date_format="YYYY-MM-DD", amount_column="Amount",
            category_column="Cat",
        )  # fmt: skip
        with pytest.raises(StatementError, match=r"line 2: category: expected text without"):
            read(data, mapping=with_category)

    def test_a_broken_quote(self) -> None:
        data = b'Date,Description,Amount\n03/12/2026,"Coffee" shop,-3.50\n'
        with pytest.raises(StatementError, match=r"line 2: expected a CSV row"):
            read(data, mapping=US)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount_column": "A", "debit_column": "D"}, "either amount_column"),
        ({}, "either amount_column"),
        ({"amount_column": "A", "direction_column": "S"}, "debit_values"),
        ({"amount_column": "A", "thousands_separator": "."}, "must differ"),
        ({"amount_column": "A", "thousands_separator": "x"}, "thousands_separator must be"),
        ({"amount_column": "A", "has_header": False}, "0-based position"),
        ({"amount_column": "A", "delimiter": '"'}, "quote_char"),
        ({"amount_column": "A", "date_format": "D/M/Y"}, "date_format"),
        ({"amount_column": "A", "encoding": "utf-7"}, "encoding"),
        ({"amount_column": -1, "date_column": 0, "has_header": False}, "greater than or equal"),
        ({"amount_column": ""}, "at least 1 character"),
    ],
)
def test_inconsistent_mappings_are_refused(fields: dict[str, Any], message: str) -> None:
    base = {"date_column": "Date", "date_format": "YYYY-MM-DD"}
    with pytest.raises(ValidationError, match=message):
        mapping(**{**base, **fields})
