"""Mapping suggestions from header names in six languages and from sample values; what the
samples cannot decide is an open choice, never a guess."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerline.imports_exports.statements import StatementError, suggest
from tests.imports_exports.statements.helpers import example, read


def test_us_layout_is_proposed_whole_with_a_preview() -> None:
    suggestion = suggest(example("bank-us.csv"), default_currency="USD")
    assert suggestion.choices == []
    assert suggestion.problem is None
    assert suggestion.proposed | {} == {
        "delimiter": ",",
        "quote_char": '"',
        "encoding": "utf-8",
        "skip_rows": 0,
        "has_header": True,
        "date_column": "Date",
        "date_format": "MM/DD/YYYY",
        "amount_column": "Amount",
        "debit_column": None,
        "credit_column": None,
        "direction_column": None,
        "debit_values": [],
        "decimal_separator": ".",
        "thousands_separator": ",",
        "negative_is": "expense",
        "description_columns": ["Description"],
        "category_column": None,
        "external_id_column": None,
        "currency_column": None,
    }
    assert [(row.date, row.amount_minor) for row in suggestion.preview] == [
        (dt.date(2026, 3, 12), -350),
        (dt.date(2026, 3, 12), -350),
        (dt.date(2026, 3, 13), 250000),
    ]


def test_german_cp1252_with_preamble() -> None:
    suggestion = suggest(example("bank-de-cp1252.csv"))
    proposed = suggestion.proposed
    assert suggestion.choices == []
    assert (proposed["delimiter"], proposed["encoding"], proposed["skip_rows"]) == (
        ";",
        "cp1252",
        3,
    )
    assert (proposed["date_column"], proposed["date_format"]) == ("Buchungstag", "DD.MM.YYYY")
    assert (proposed["amount_column"], proposed["decimal_separator"]) == ("Betrag", ",")
    assert proposed["currency_column"] == "Währung"
    assert proposed["description_columns"] == ["Buchungstext", "Empfänger", "Verwendungszweck"]
    assert suggestion.mapping is not None
    file = read(example("bank-de-cp1252.csv"), mapping=suggestion.mapping)
    assert [row.amount_minor for row in file.rows] == [-350, 250000, -123456]


def test_dutch_direction_column() -> None:
    proposed = suggest(example("bank-nl.tsv"), default_currency="EUR").proposed
    assert proposed["delimiter"] == "\t"
    assert proposed["date_format"] == "YYYYMMDD"
    assert (proposed["direction_column"], proposed["debit_values"]) == ("Af Bij", ["Af"])


def test_debit_and_credit_columns() -> None:
    proposed = suggest(example("bank-debit-credit.csv"), default_currency="GBP").proposed
    assert (proposed["debit_column"], proposed["credit_column"]) == ("Paid out", "Paid in")
    assert proposed["amount_column"] is None
    assert proposed["date_format"] == "DD/MM/YYYY"


@pytest.mark.parametrize(
    ("text", "date", "amount", "debit", "credit", "descriptions"),
    [
        (
            "Date opération;Libellé;Débit;Crédit\n12/03/2026;CB CARREFOUR;3,50;\n"
            "13/03/2026;VIR SALAIRE;;2500,00\n",
            "Date opération",
            None,
            "Débit",
            "Crédit",
            ["Libellé"],
        ),
        (
            "Fecha;Concepto;Importe;Saldo\n12/03/2026;Bizum;-3,50;100,00\n"
            "13/03/2026;Nómina;2.500,00;2.600,00\n",
            "Fecha",
            "Importe",
            None,
            None,
            ["Concepto"],
        ),
        (
            "Data operazione;Data valuta;Descrizione;Importo\n"
            "12/03/2026;12/03/2026;Caffè;-3,50\n13/03/2026;13/03/2026;Stipendio;2500,00\n",
            "Data operazione",
            "Importo",
            None,
            None,
            ["Descrizione"],
        ),
        (
            "Buchungstag;Verwendungszweck;Soll;Haben\n12.03.2026;Miete;850,00;\n"
            "13.03.2026;Gehalt;;2.500,00\n",
            "Buchungstag",
            None,
            "Soll",
            "Haben",
            ["Verwendungszweck"],
        ),
        (
            "Datum,Omschrijving,Bedrag\n2026-03-12,Koffie,-3.50\n2026-03-13,Salaris,2500.00\n",
            "Datum",
            "Bedrag",
            None,
            None,
            ["Omschrijving"],
        ),
    ],
    ids=["french", "spanish", "italian", "german-soll-haben", "dutch"],
)
def test_header_names_in_six_languages(
    text: str,
    date: str,
    amount: str | None,
    debit: str | None,
    credit: str | None,
    descriptions: list[str],
) -> None:
    suggestion = suggest(text.encode(), default_currency="EUR")
    proposed = suggestion.proposed
    assert suggestion.choices == []
    assert (proposed["date_column"], proposed["amount_column"]) == (date, amount)
    assert (proposed["debit_column"], proposed["credit_column"]) == (debit, credit)
    assert proposed["description_columns"] == descriptions
    assert suggestion.problem is None
    assert len(suggestion.preview) == 2


def test_an_ambiguous_date_format_is_a_choice_not_a_guess() -> None:
    data = b"Date,Description,Amount\n03/12/2026,Coffee,-3.50\n04/11/2026,Tea,-2.00\n"
    suggestion = suggest(data, default_currency="USD")
    (choice,) = suggestion.choices
    assert choice.field == "date_format"
    assert choice.options == ["DD/MM/YYYY", "MM/DD/YYYY"]
    assert suggestion.proposed["date_format"] is None
    assert suggestion.mapping is None
    assert suggestion.preview == []


def test_an_ambiguous_decimal_separator_is_a_choice() -> None:
    data = b"Date;Text;Amount\n2026-03-12;Rent;1,250\n2026-03-13;Bonus;2,000\n"
    choices = suggest(data, default_currency="USD").choices
    assert [(c.field, c.options) for c in choices] == [("decimal_separator", [".", ","])]


def test_without_a_header_columns_are_found_from_values() -> None:
    data = b"2026-03-12,-3.50,Blue Bottle Coffee\n2026-03-13,2500.00,ACME payroll\n"
    suggestion = suggest(data, default_currency="USD")
    proposed = suggestion.proposed
    assert proposed["has_header"] is False
    assert (proposed["date_column"], proposed["amount_column"]) == (0, 1)
    assert proposed["description_columns"] == [2]
    assert [row.description for row in suggestion.preview] == [
        "Blue Bottle Coffee",
        "ACME payroll",
    ]


def test_a_row_past_the_samples_that_does_not_read_is_reported() -> None:
    rows = "".join(f"2026-03-{day % 28 + 1:02d},Coffee,-3.50\n" for day in range(60))
    data = f"Date,Description,Amount\n{rows}2026-03-14,Cake,lots\n".encode()
    suggestion = suggest(data, default_currency="USD")
    assert suggestion.choices == []
    assert suggestion.mapping is not None
    assert suggestion.problem is not None
    assert suggestion.problem.startswith("line 62: amount: expected an amount like")
    assert len(suggestion.preview) == 0


def test_a_statement_in_another_format_needs_no_mapping() -> None:
    with pytest.raises(StatementError, match="the file is SWIFT MT940, read without a mapping"):
        suggest(example("mt940.sta"))


def test_uk_layout_with_account_columns_to_ignore() -> None:
    data = (
        b"Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,"
        b"Debit Amount,Credit Amount,Balance\n"
        b"13/03/2026,DEB,'30-94-57,12345678,TESCO STORES 2041,12.50,,1234.56\n"
        b"14/03/2026,FPI,'30-94-57,12345678,ACME LTD,,2500.00,3734.56\n"
    )
    suggestion = suggest(data, default_currency="GBP")
    proposed = suggestion.proposed
    assert (proposed["date_column"], proposed["date_format"]) == ("Transaction Date", "DD/MM/YYYY")
    assert (proposed["debit_column"], proposed["credit_column"]) == (
        "Debit Amount",
        "Credit Amount",
    )
    assert proposed["description_columns"] == ["Transaction Description"]
    assert [row.amount_minor for row in suggestion.preview] == [-1250, 250000]


def test_card_app_layout_prefers_the_completed_date_and_ignores_times() -> None:
    data = (
        b"Type,Product,Started Date,Completed Date,Description,Amount,Fee,Currency,State\n"
        b"CARD_PAYMENT,Current,2026-03-12 10:31:07,2026-03-13 09:00:01,Blue Bottle,-3.50,0.00,"
        b"EUR,COMPLETED\n"
        b"TOPUP,Current,2026-03-13 08:00:00,2026-03-13 08:00:05,Top-up,100.00,0.00,EUR,COMPLETED\n"
    )
    suggestion = suggest(data)
    assert suggestion.proposed["date_column"] == "Completed Date"
    assert suggestion.proposed["currency_column"] == "Currency"
    assert [(row.date, row.amount_minor) for row in suggestion.preview] == [
        (dt.date(2026, 3, 13), -350),
        (dt.date(2026, 3, 13), 10000),
    ]
