"""Properties of the CSV reader's building blocks, without a database: the fast amount path
agrees with ``parse_amount``, the formula guard is undone exactly, and the reader's memory is
bounded by its line limit."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerline.core.money import MoneyError, minor_digits, parse_amount
from ledgerline.imports_exports.parsing import (
    MAX_LINE_BYTES,
    CsvRows,
    FileRejected,
    _amount,
    escape_cell,
    unescape_cell,
)

CURRENCIES = ["USD", "JPY", "KWD", "CLF", "EUR"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
amount_texts = st.one_of(
    st.from_regex(r"\A[0-9]{1,14}(\.[0-9]{0,6})?\Z"),
    st.from_regex(r"\A[ 0-9.eE+\-]{1,16}\Z"),
    st.text(max_size=12),
)
cells = st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "a", " ", "\n"]))


@given(text=amount_texts, currency=st.sampled_from(CURRENCIES))
def test_the_fast_amount_path_agrees_with_parse_amount(text: str, currency: str) -> None:
    try:
        expected: int | None = parse_amount(text, currency)
    except MoneyError:
        expected = None

    result = _amount(text, currency, minor_digits(currency))

    assert result == expected if expected is not None else isinstance(result, str)


@given(text=cells | st.text())
def test_unescape_undoes_escape(text: str) -> None:
    assert unescape_cell(escape_cell(text)) == text


@given(text=cells)
def test_an_escaped_cell_never_starts_a_formula(text: str) -> None:
    assert not escape_cell(text).startswith(FORMULA_START)


def test_a_line_longer_than_the_limit_is_refused_without_reading_the_rest() -> None:
    stream = io.BytesIO(b"date,type,category,amount\n" + b"x" * (10 * MAX_LINE_BYTES))
    rows = CsvRows(stream, default_currency="USD", max_rows=10)

    with pytest.raises(FileRejected) as rejected:
        list(rows)

    assert (rejected.value.error.row, rejected.value.error.field) == (2, "file")
    assert stream.tell() <= 2 * MAX_LINE_BYTES
