"""Each format read from a file written the way banks write it (docs/examples/)."""

from __future__ import annotations

import datetime as dt

import pytest

from ledgerline.imports_exports.statements import (
    MappingRequired,
    StatementError,
    UnsupportedFormat,
    all_formats,
    detect,
)
from tests.imports_exports.statements.helpers import example, read, summary

D = dt.date


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ofx-1.02-sgml.ofx", "ofx"),
        ("ofx-2.xml.ofx", "ofx"),
        ("quicken.qfx", "ofx"),
        ("quicken.qif", "qif"),
        ("camt053.xml", "camt"),
        ("mt940.sta", "mt940"),
        ("bank-us.csv", "csv"),
        ("bank-de-cp1252.csv", "csv"),
        ("bank-nl.tsv", "csv"),
    ],
)
def test_format_is_recognised_from_the_content(name: str, expected: str) -> None:
    assert detect(example(name)).name == expected


def test_unknown_content_names_the_formats_that_are_read() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        detect(b"Dear customer,\nyour statement is attached.\n")
    for statement_format in all_formats():
        assert statement_format.title in str(caught.value)


def test_a_csv_without_a_mapping_asks_for_one() -> None:
    with pytest.raises(MappingRequired):
        read(example("bank-us.csv"))


class TestOfx:
    def test_sgml_with_unclosed_tags(self) -> None:
        file = read(example("ofx-1.02-sgml.ofx"))
        assert file.format == "ofx"
        assert summary(file) == [
            (D(2026, 12, 1), -350, "BLUE BOTTLE COFFEE / POS PURCHASE"),
            (D(2026, 12, 1), -350, "BLUE BOTTLE COFFEE"),
            (D(2026, 12, 2), 250000, "ACME CORP PAYROLL / SALARY DEC"),
            (D(2026, 12, 3), -123456, "SMITH & SONS RENT"),
        ]
        assert [row.bank_id for row in file.rows][:2] == ["202612010001", "202612010002"]
        assert {row.currency for row in file.rows} == {"USD"}
        (statement,) = file.statements
        assert statement.account == "4433221100"
        assert (statement.closing_balance_minor, statement.closing_date) == (
            426144,
            D(2026, 12, 3),
        )

    def test_xml_credit_card_statement(self) -> None:
        file = read(example("ofx-2.xml.ofx"), currency="USD")
        assert summary(file) == [
            (D(2026, 12, 1), -4290, "Librairie Gallimard & Cie / Paris FR"),
            (D(2026, 12, 3), 1500, "Refund Müller GmbH"),
        ]
        assert file.rows[0].currency == "EUR"
        assert file.accounts == ["XXXXXXXXXXXX4242"]
        assert file.statements[0].closing_balance_minor == -2790

    def test_qfx_on_one_line_with_a_zero_amount_skipped(self) -> None:
        file = read(example("quicken.qfx"))
        assert summary(file) == [(D(2026, 12, 2), -6412, "WHOLEFDS MKT #10234 / CARD PURCHASE")]
        assert file.rows[0].bank_id == "20261202 123456 6412 201,612,020,001"
        assert file.skipped == 1

    def test_an_empty_leaf_in_the_middle_keeps_its_siblings(self) -> None:
        data = example("ofx-1.02-sgml.ofx").replace(
            b"<TRNAMT>2500.00", b"<MEMO>\r\n<TRNAMT>2500.00"
        )
        row = read(data).rows[2]
        assert (row.amount_minor, row.bank_id) == (250000, "202612020001")

    def test_bank_and_card_statements_in_one_file(self) -> None:
        card = example("ofx-2.xml.ofx")
        card_part = card[card.index(b"<CREDITCARDMSGSRSV1>") : card.index(b"</OFX>")]
        bank = example("ofx-1.02-sgml.ofx")
        data = bank.replace(b"</OFX>", card_part + b"</OFX>")
        file = read(data)
        assert file.accounts == ["4433221100", "XXXXXXXXXXXX4242"]
        assert [s.currency for s in file.statements] == ["USD", "EUR"]
        assert len(file.rows) == 6

    def test_a_cut_off_download_names_the_open_element(self) -> None:
        data = example("ofx-1.02-sgml.ofx")
        with pytest.raises(StatementError, match=r"ends inside <BANKTRANLIST>") as caught:
            read(data[: data.index(b"</BANKTRANLIST>")])
        assert caught.value.line is not None

    def test_a_bad_amount_names_its_line(self) -> None:
        data = example("ofx-1.02-sgml.ofx").replace(b"<TRNAMT>2500.00", b"<TRNAMT>25O0.00")
        with pytest.raises(StatementError, match=r"TRNAMT.*expected an amount") as caught:
            read(data)
        assert caught.value.line == 58


class TestQif:
    def test_month_first_dates_with_apostrophe_years(self) -> None:
        file = read(example("quicken.qif"), currency="USD")
        assert file.format == "qif"
        assert summary(file) == [
            (D(2026, 12, 1), -350, "Blue Bottle Coffee / Latte"),
            (D(2026, 12, 1), -350, "Blue Bottle Coffee"),
            (D(2026, 12, 2), 250000, "ACME Corp / Salary December"),
            (D(2026, 12, 3), -123456, "Smith & Sons"),
            (D(2026, 3, 12), -1200, "Corner Shop"),
        ]
        assert [row.category for row in file.rows] == [
            "Dining",
            "Dining",
            "Salary",
            "Rent",
            None,
        ]
        assert file.accounts == ["Everyday Checking"]

    def test_date_format_override_reads_day_first(self) -> None:
        file = read(example("quicken.qif"), currency="USD", date_format="DD/MM/YY")
        assert file.rows[-1].date == D(2026, 12, 3)

    def test_qif_needs_the_accounts_currency(self) -> None:
        with pytest.raises(StatementError, match="states no currency"):
            read(example("quicken.qif"), currency=None)

    def test_the_last_record_without_its_caret(self) -> None:
        data = b"!Type:CCard\r\nD1/2/26\r\nT-9.99\r\nPStreaming\r\n"
        assert summary(read(data)) == [(D(2026, 1, 2), -999, "Streaming")]

    def test_other_lists_are_passed_over(self) -> None:
        data = b"!Type:Cat\nNFood\nE\n^\n!Type:Bank\nD1/2/26\nT-9.99\n^\n"
        assert len(read(data).rows) == 1

    def test_a_bad_date_names_the_record(self) -> None:
        data = b"!Type:Bank\nD13/45'26\nT-1.00\n^\n"
        with pytest.raises(StatementError, match=r"D: expected a date") as caught:
            read(data)
        assert caught.value.line == 2


class TestCamt:
    def test_entries_batch_and_pending(self) -> None:
        file = read(example("camt053.xml"))
        assert file.format == "camt"
        assert summary(file) == [
            (D(2026, 12, 3), -350, "Bäckerei Müller / Kartenzahlung girocard 2026-12-03T08:14"),
            (D(2026, 12, 3), 250000, "ACME GmbH / Gehalt Dezember 2026"),
            (D(2026, 12, 3), -8500, "Stadtwerke Berlin / Abschlag Strom 12/2026 / "
             "SEPA Sammellastschrift"),
            (D(2026, 12, 3), -12200, "Versicherung AG / Beitrag Dezember / "
             "SEPA Sammellastschrift"),
        ]  # fmt: skip
        assert [row.bank_id for row in file.rows] == [
            "2026120300001",
            "2026120300002",
            "STROM-4711",
            "2026120300003/2",
        ]
        assert file.skipped == 1
        (statement,) = file.statements
        assert statement.account == "DE89370400440532013000"
        assert (statement.closing_balance_minor, statement.closing_date) == (
            352406,
            D(2026, 12, 3),
        )

    def test_several_statements_in_one_file(self) -> None:
        data = example("camt053.xml")
        start, end = data.index(b"<Stmt>"), data.index(b"</Stmt>") + len(b"</Stmt>")
        second = data[start:end].replace(b"DE89370400440532013000", b"DE02120300000000202051")
        file = read(data[:end] + second + data[end:])
        assert file.accounts == ["DE89370400440532013000", "DE02120300000000202051"]
        assert len(file.rows) == 8

    def test_closing_booked_balance_wins_over_available(self) -> None:
        data = example("camt053.xml").replace(b"<Cd>PRCD</Cd>", b"<Cd>CLAV</Cd>")
        assert read(data).statements[0].closing_balance_minor == 352406

    def test_status_as_a_code_element(self) -> None:
        data = (
            example("camt053.xml")
            .replace(b"<Sts>BOOK</Sts>", b"<Sts><Cd>BOOK</Cd></Sts>")
            .replace(b"<Sts>PDNG</Sts>", b"<Sts><Cd>PDNG</Cd></Sts>")
        )
        file = read(data)
        assert (len(file.rows), file.skipped) == (4, 1)

    def test_camt054_notification(self) -> None:
        data = (
            example("camt053.xml")
            .replace(b"camt.053.001.02", b"camt.054.001.02")
            .replace(b"BkToCstmrStmt>", b"BkToCstmrDbtCdtNtfctn>")
            .replace(b"<Stmt>", b"<Ntfctn>")
            .replace(b"</Stmt>", b"</Ntfctn>")
        )
        assert len(read(data).rows) == 4

    def test_a_bad_amount_names_its_line(self) -> None:
        data = example("camt053.xml").replace(b">2500.00<", b">2.500,00<")
        with pytest.raises(
            StatementError, match=r"Ntry 2 of its statement: expected an amount"
        ) as caught:
            read(data)
        assert caught.value.line == 46


class TestMt940:
    def test_one_statement_a_day_with_structured_details(self) -> None:
        file = read(example("mt940.sta"))
        assert file.format == "mt940"
        assert summary(file) == [
            (D(2026, 12, 1), -350, "BLUE BOTTLE COFFEE / Blue Bottle Coffee Berlin"),
            (D(2026, 12, 1), -350, "BLUE BOTTLE COFFEE / Blue Bottle Coffee Berlin"),
            (D(2026, 12, 2), 250000, "ACME GMBH / Gehalt Dezember 2026"),
            (D(2026, 12, 2), -12000, "Lastschrift Versicherung AG Beitrag Dezember"),
        ]
        assert [row.bank_id for row in file.rows] == [
            "8327000090031789",
            "8327000090031790",
            "8327000090031801",
            None,
        ]
        assert [row.line for row in file.rows] == [5, 7, 15, 17]
        assert [(s.closing_balance_minor, s.closing_date) for s in file.statements] == [
            (122756, D(2026, 12, 1)),
            (360756, D(2026, 12, 2)),
        ]
        assert file.accounts == ["37040044/0532013000"]

    def test_inside_a_swift_envelope(self) -> None:
        body = example("mt940.sta").rstrip(b"-\r\n")
        data = b"{1:F01DEUTDEFFAXXX0000000000}{2:I940DEUTDEFFXXXXN}{4:\r\n" + body + b"\r\n-}\r\n"
        file = read(data)
        assert [row.line for row in file.rows] == [6, 8, 16, 18]
        assert file.statements[-1].closing_balance_minor == 360756

    def test_a_broken_transaction_line_is_named(self) -> None:
        data = example("mt940.sta").replace(b":61:261202D120,", b":61:26XX02D120,")
        with pytest.raises(StatementError, match="expected an MT940 field") as caught:
            read(data)
        assert caught.value.line == 17


class TestOfxEncodings:
    def test_the_1252_charset_of_the_header(self) -> None:
        data = example("ofx-1.02-sgml.ofx").replace(
            b"SMITH &amp; SONS", "SMITH & SÖHNE".encode("cp1252")
        )
        assert read(data).rows[3].description == "SMITH & SÖHNE RENT"

    def test_utf8_text_under_a_1252_header(self) -> None:
        data = example("ofx-1.02-sgml.ofx").replace(b"SMITH &amp; SONS", "SMITH & SÖHNE".encode())
        assert read(data).rows[3].description == "SMITH & SÖHNE RENT"
