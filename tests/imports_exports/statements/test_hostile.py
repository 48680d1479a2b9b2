"""Files meant to hurt: entity bombs, external entities, endless lines, binary data, a PDF
renamed .csv. Each is refused with a StatementError saying what it is, reading at most
the byte limit."""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest

from ledgerline.imports_exports.statements import (
    CsvMapping,
    StatementError,
    StatementTooLarge,
    UnsupportedFormat,
    read_limited,
    suggest,
)
from tests.imports_exports.statements.helpers import example, read

CAMT_NS = b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE Document [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b']>\n<Document xmlns="'
    + CAMT_NS
    + b'"><BkToCstmrStmt><Stmt><Ntry><AddtlNtryInf>&lol9;</AddtlNtryInf></Ntry></Stmt>'
    b"</BkToCstmrStmt></Document>\n"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<Document xmlns="' + CAMT_NS + b'"><BkToCstmrStmt><Stmt><Ntry>'
    b"<AddtlNtryInf>&xxe;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>\n"
)


class EndlessLine(io.RawIOBase):
    """A stream of ``size`` bytes without a newline, produced as it is read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = b"a" * count
        self.left -= count
        return count


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "external"])
def test_xml_entities_are_refused_before_expansion(data: bytes) -> None:
    with pytest.raises(StatementError, match="declares a document type"):
        read(data)


def test_ofx_with_an_entity_declaration_is_refused() -> None:
    data = example("ofx-2.xml.ofx").replace(
        b"<OFX>", b'<!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<OFX>', 1
    )
    with pytest.raises(StatementError, match="OFX declares no entities"):
        read(data)


def test_a_100_mb_line_is_refused_after_reading_the_limit_only() -> None:
    stream = io.BufferedReader(EndlessLine(100_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(StatementTooLarge, match="larger than 2000000 bytes"):
            read_limited(stream, max_bytes=2_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.raw.left >= 100_000_000 - 2_000_000 - 65_536 * 2  # type: ignore[attr-defined]
    assert peak < 6_000_000


@pytest.mark.parametrize(
    "data",
    [
        b"Date,Description,Amount\n03/12/2026,Coffee," + b"9" * 1_000_000 + b"\n",
        b"!Type:Bank\nD03/12'26\nP" + b"x" * 1_000_000 + b"\n^\n",
        b":20:X\n:25:DE1\n:86:" + b"x" * 1_000_000 + b"\n",
    ],
    ids=["csv", "qif", "mt940"],
)
def test_a_line_over_the_line_limit_is_named(data: bytes) -> None:
    mapping = CsvMapping(date_column="Date", date_format="MM/DD/YYYY", amount_column="Amount")
    with pytest.raises(StatementError, match="longer than 65536 characters") as caught:
        read(data, mapping=mapping)
    assert caught.value.line is not None


def test_binary_garbage_is_refused() -> None:
    garbage = random.Random(7).randbytes(50_000)
    with pytest.raises(StatementError, match="binary data"):
        read(garbage)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "a PDF"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "XLS"),
        (b"\n \r\n", "empty"),
    ],
    ids=["pdf", "xlsx", "xls", "empty"],
)
def test_known_non_statements_are_named(data: bytes, what: str) -> None:
    with pytest.raises(StatementError, match=what):
        read(data)
    with pytest.raises(StatementError, match=what):
        suggest(data)


def test_plain_prose_is_no_supported_format() -> None:
    with pytest.raises(UnsupportedFormat, match="CSV"):
        read(b"Hello,\nplease find attached.\n")


def test_text_in_the_wrong_encoding_names_the_line() -> None:
    mapping = CsvMapping(
        date_column="Date", date_format="MM/DD/YYYY", amount_column="Amount", encoding="utf-8"
    )
    data = "Date,Description,Amount\n03/12/2026,Café,-3.50\n".encode("cp1252")
    with pytest.raises(StatementError, match="line 2: the text is not utf-8"):
        read(data, mapping=mapping)


def test_a_large_camt_file_is_read_entry_by_entry() -> None:
    """The document tree never holds all entries: peak memory stays below twice the file's
    size, rows included (a whole ElementTree of it takes about fifteen times the size)."""
    data = example("camt053.xml")
    start = data.index(b"<Ntry>")
    end = data.index(b"</Ntry>", start) + len(b"</Ntry>")
    entries = b"".join(
        data[start:end].replace(b"2026120300001", f"R{i}".encode()) for i in range(4_000)
    )
    big = data[:start] + entries + data[data.index(b"</Stmt>") :]
    tracemalloc.start()
    try:
        file = read(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(file.rows) == 4_000
    assert file.rows[-1].bank_id == "R3999"
    assert peak < 2 * len(big)
