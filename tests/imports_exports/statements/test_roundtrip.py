"""Property: rows written as a bank CSV by a mapping read back through that mapping as the
same rows, whatever the mapping's delimiter, separators, date format, amount layout and
encoding."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerline.core.money import format_amount
from ledgerline.imports_exports.statements import DATE_FORMATS, CsvMapping, DateFormat
from ledgerline.imports_exports.statements.formats.csv_mapped import read_mapped
from ledgerline.imports_exports.statements.model import describe

STRFTIME: dict[DateFormat, str] = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD.MM.YYYY": "%d.%m.%Y",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD-MM-YYYY": "%d-%m-%Y",
    "YYYYMMDD": "%Y%m%d",
    "DD/MM/YY": "%d/%m/%y",
    "MM/DD/YY": "%m/%d/%y",
    "DD MMM YYYY": "%d %b %Y",
    "MMM DD, YYYY": "%b %d, %Y",
}
TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ 0123;,.\t|\"'-/äöüéß€")), min_size=0, max_size=20
)
ROWS = st.lists(
    st.tuples(
        st.dates(dt.date(1969, 1, 1), dt.date(2068, 12, 31)),
        st.integers(-(10**12), 10**12).filter(bool),
        TEXT,
    ),
    min_size=1,
    max_size=15,
)


@st.composite
def mappings(draw: st.DrawFn) -> CsvMapping:
    decimal = draw(st.sampled_from([".", ","]))
    thousands = draw(st.sampled_from([None, " ", "'", "." if decimal == "," else ","]))
    layout = draw(st.sampled_from(["signed", "debit_credit", "direction"]))
    has_header = draw(st.booleans())
    names = ["Booked", "Amount", "Out", "In", "Dir", "Text"]

    def column(position: int) -> str | int:
        return names[position] if has_header else position

    fields: dict[str, Any] = {
        "delimiter": draw(st.sampled_from([",", ";", "\t", "|"])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])),
        "skip_rows": draw(st.integers(0, 2)),
        "has_header": has_header,
        "date_column": column(0),
        "date_format": draw(st.sampled_from(DATE_FORMATS)),
        "decimal_separator": decimal,
        "thousands_separator": thousands,
        "negative_is": draw(st.sampled_from(["expense", "income"])),
        "description_columns": [column(5)],
    }
    if layout == "signed":
        fields["amount_column"] = column(1)
    elif layout == "debit_credit":
        fields |= {"debit_column": column(2), "credit_column": column(3)}
    else:
        fields |= {"amount_column": column(1), "direction_column": column(4)}
        fields["debit_values"] = ["D"]
    return CsvMapping.model_validate(fields)


def _amount_text(minor: int, mapping: CsvMapping) -> str:
    whole, _, fraction = format_amount(abs(minor), "EUR").partition(".")
    if mapping.thousands_separator:
        groups = [whole[max(i - 3, 0) : i] for i in range(len(whole), 0, -3)][::-1]
        whole = mapping.thousands_separator.join(groups)
    return f"{whole}{mapping.decimal_separator}{fraction}"


def write_csv(rows: list[tuple[dt.date, int, str]], mapping: CsvMapping) -> bytes:
    out = io.StringIO(newline="")
    out.write("preamble line\r\n" * mapping.skip_rows)
    writer = csv.writer(out, delimiter=mapping.delimiter, quotechar=mapping.quote_char)
    if mapping.has_header:
        writer.writerow(["Booked", "Amount", "Out", "In", "Dir", "Text"])
    flip = -1 if mapping.negative_is == "income" else 1
    for date, minor, text in rows:
        magnitude = _amount_text(minor, mapping)
        signed = ("-" if minor * flip < 0 else "") + magnitude
        out_cell, in_cell = (magnitude, "") if minor < 0 else ("", magnitude)
        direction = "D" if minor < 0 else "C"
        amount = magnitude if mapping.direction_column is not None else signed
        booked = date.strftime(STRFTIME[mapping.date_format])
        writer.writerow([booked, amount, out_cell, in_cell, direction, text])
    return out.getvalue().encode(mapping.encoding or "utf-8")


@settings(max_examples=150, deadline=None)
@given(rows=ROWS, mapping=mappings())
def test_rows_written_by_a_mapping_read_back_through_it(
    rows: list[tuple[dt.date, int, str]], mapping: CsvMapping
) -> None:
    parsed = read_mapped(write_csv(rows, mapping), mapping, "EUR")
    assert parsed.skipped == 0
    read_back = [(r.date, r.amount_minor, r.description) for r in parsed.statements[0].rows]
    assert read_back == [(date, minor, describe(text)) for date, minor, text in rows]
