"""Row identities: identical rows stay distinct by occurrence; re-reading matches all."""

from __future__ import annotations

from ledgerline.imports_exports.statements import CsvMapping, row_identities
from tests.imports_exports.statements.helpers import example, read

US = CsvMapping(
    date_column="Date",
    date_format="MM/DD/YYYY",
    amount_column="Amount",
    description_columns=["Description"],
)


def _csv(*lines: str) -> bytes:
    return ("Date,Description,Amount\n" + "\n".join(lines) + "\n").encode()


def test_two_identical_coffees_on_one_day_are_two_rows() -> None:
    rows = read(example("bank-us.csv"), mapping=US).rows
    first, second, salary = row_identities(rows)
    assert (first.occurrence, second.occurrence, salary.occurrence) == (1, 2, 1)
    assert first.fingerprint != second.fingerprint
    assert first.bank_id is None


def test_reading_the_same_statement_again_matches_every_row() -> None:
    earlier = set(row_identities(read(example("bank-us.csv"), mapping=US).rows))
    again = row_identities(read(example("bank-us.csv"), mapping=US).rows)
    assert [identity for identity in again if identity not in earlier] == []


def test_an_overlapping_statement_adds_only_its_new_rows() -> None:
    earlier = _csv("03/01/2026,Coffee,-3.50", "03/02/2026,Coffee,-3.50", "03/02/2026,Tea,-2.00")
    overlap = _csv(
        "03/02/2026,Coffee,-3.50",
        "03/02/2026,Coffee,-3.50",
        "03/02/2026,Tea,-2.00",
        "03/03/2026,Coffee,-3.50",
    )
    known = set(row_identities(read(earlier, mapping=US).rows))
    rows = read(overlap, mapping=US).rows
    new = [row for row, key in zip(rows, row_identities(rows), strict=True) if key not in known]
    assert [(row.line, row.description) for row in new] == [(3, "Coffee"), (5, "Coffee")]


def test_description_whitespace_does_not_make_a_new_row() -> None:
    (a,) = row_identities(read(_csv("03/01/2026,Blue  Bottle ,-3.50"), mapping=US).rows)
    (b,) = row_identities(read(_csv("03/01/2026,Blue Bottle,-3.50"), mapping=US).rows)
    assert a == b


def test_a_bank_id_is_the_identity() -> None:
    rows = read(example("ofx-1.02-sgml.ofx")).rows
    identities = row_identities(rows)
    assert [i.bank_id for i in identities][:2] == ["202612010001", "202612010002"]
    assert all(i.fingerprint is None for i in identities)
