"""How fast statement files are read, next to the plain CSV import's reader, with no database.

Generates the same number of rows in a German bank CSV (cp1252, ``;``, decimal comma, two
description columns, read through its mapping, then given their row identities), in our own
CSV layout (read by the plain importer's reader), and as OFX 1.x, CAMT.053 and MT940 built
from the example files, reads each ``--repeat`` times and prints the median wall time and
rows/s. The statement endpoint's import adds the same database work as the plain import, so
the reader's share decides how close a bank file's import comes to the plain one's.

    .venv/bin/python -m bench.statements --rows 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from ledgerline.imports_exports.parsing import CsvRows
from ledgerline.imports_exports.statements import (
    CsvMapping,
    ReadOptions,
    read_statements,
    row_identities,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
GERMAN = CsvMapping(
    delimiter=";",
    encoding="cp1252",
    date_column="Buchungstag",
    date_format="DD.MM.YYYY",
    amount_column="Betrag",
    decimal_separator=",",
    thousands_separator=".",
    description_columns=["Empfänger", "Verwendungszweck"],
    currency_column="Währung",
)


def german_csv(rows: int) -> bytes:
    lines = ["Buchungstag;Valutadatum;Buchungstext;Empfänger;Verwendungszweck;Betrag;Währung"]
    for i in range(rows):
        day = f"{i % 28 + 1:02d}.{i % 12 + 1:02d}.2026"
        amount = f"-{i % 900 + 1},{i % 100:02d}"
        lines.append(
            f'"{day}";"{day}";"Kartenzahlung";"Bäckerei Müller {i % 50}";"Brötchen {i}";'
            f'"{amount}";"EUR"'
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def plain_csv(rows: int) -> bytes:
    lines = ["date,type,category,amount,notes"]
    for i in range(rows):
        lines.append(
            f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d},expense,Food,{i % 900 + 1}.{i % 100:02d},"
            f"Brötchen {i}"
        )
    return ("\n".join(lines) + "\n").encode()


def repeated(name: str, rows: int, marker: bytes, end_marker: bytes) -> bytes:
    """The example file with its first transaction block repeated to ``rows`` rows."""
    data = (EXAMPLES / name).read_bytes()
    start = data.index(marker)
    end = data.index(end_marker, start) + len(end_marker)
    block = data[start:end]
    return data[:start] + block * rows + data[end:]


def measure(label: str, repeat: int, read: Callable[[], int]) -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        count = read()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{label:<44} {count:>8} rows {median:7.2f} s {count / median:>10,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    german, plain = german_csv(rows), plain_csv(rows)
    mapped = ReadOptions(mapping=GERMAN)

    def read_mapped() -> int:
        return len(read_statements(german, mapped).rows)

    def read_mapped_with_identities() -> int:
        return len(row_identities(read_statements(german, mapped).rows))

    def read_plain() -> int:
        return sum(1 for _ in CsvRows(io.BytesIO(plain), default_currency="EUR", max_rows=rows))

    measure("plain CSV (the import's reader)", repeat, read_plain)
    measure("bank CSV through its mapping", repeat, read_mapped)
    measure("bank CSV through its mapping + identities", repeat, read_mapped_with_identities)
    options = ReadOptions(default_currency="EUR")
    for label, data in (
        ("OFX 1.02 SGML", repeated("ofx-1.02-sgml.ofx", rows, b"<STMTTRN>", b"</STMTTRN>\r\n")),
        ("CAMT.053", repeated("camt053.xml", rows, b"<Ntry>", b"</Ntry>\n")),
        ("MT940 (one statement)", repeated("mt940.sta", rows, b":61:", b"COFFEE\r\n")),
    ):
        measure(label, repeat, lambda data=data: len(read_statements(data, options).rows))


if __name__ == "__main__":
    main()
