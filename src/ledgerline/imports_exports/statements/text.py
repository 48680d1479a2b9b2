"""Bytes in, bounded: reading a stream with a limit, refusing what is not text, decoding.

Every format reads the whole file into memory, so the only memory bound is the byte limit
applied here while reading: a stream of any length (a 100 MB line, an endless generator)
costs at most ``max_bytes`` plus one chunk.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Final, Literal

from charset_normalizer import from_bytes

from ledgerline.imports_exports.statements.model import StatementError, StatementTooLarge

DEFAULT_MAX_BYTES: Final = 20_000_000
MAX_LINE_CHARS: Final = 65_536
"""Longest line a line-oriented format accepts; a real statement line is a few hundred."""
Encoding = Literal["utf-8", "utf-8-sig", "utf-16", "cp1252", "iso-8859-1", "iso-8859-15"]
"""Encodings a mapping may name (UTF-16 needs its byte-order mark)."""
_DETECTED_8BIT: Final[dict[str, Encoding]] = {
    "cp1252": "cp1252",
    "iso8859_15": "iso-8859-15",
    "latin_1": "iso-8859-1",
}
_SAMPLE_BYTES: Final = 1 << 20
_CHUNK: Final = 1 << 16
_BINARY_SIGNATURES: Final = {
    b"%PDF-": "a PDF document; download the statement as CSV, OFX, QIF, CAMT or MT940 instead",
    b"PK\x03\x04": "a ZIP archive or spreadsheet (XLSX/ODS); save it as CSV first",
    b"\xd0\xcf\x11\xe0": "an Excel 97 (XLS) spreadsheet; save it as CSV first",
    b"\x1f\x8b": "a gzip archive; unpack it first",
}
_CONTROL: Final = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def read_limited(stream: BinaryIO, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The stream's bytes, refusing (without reading further) one longer than ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(min(_CHUNK, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise StatementTooLarge(f"the file is larger than {max_bytes} bytes")
    return b"".join(chunks)


def _utf16_bom(data: bytes) -> bool:
    return data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def refuse_non_text(data: bytes) -> None:
    """Name what a file is when it is a known binary kind, or refuse binary bytes plainly."""
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise StatementError(f"the file is {what}")
    if not data.strip():
        raise StatementError("the file is empty")
    if _utf16_bom(data):
        return
    head = data[:8_192]
    if b"\x00" in head or len(_CONTROL.findall(head)) > len(head) // 100:
        raise StatementError("the file is binary data, not a text statement")


def sniff_text(head: bytes) -> str:
    """The start of a file as text, good enough to look for a format's markers in."""
    if _utf16_bom(head):
        return head[: len(head) // 2 * 2].decode("utf-16", errors="replace").removeprefix("\ufeff")
    return head.decode("utf-8", errors="replace").removeprefix("\ufeff")


def detect_encoding(data: bytes) -> Encoding:
    """UTF-16 when the file starts with its BOM, UTF-8 when it decodes as such (BOM or not),
    otherwise the 8-bit Western encoding charset-normalizer finds most plausible."""
    if _utf16_bom(data):
        return "utf-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[:_SAMPLE_BYTES], cp_isolation=list(_DETECTED_8BIT)).best()
        return _DETECTED_8BIT.get(best.encoding if best is not None else "", "cp1252")
    return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"


def decode(data: bytes, encoding: Encoding | str | None = None) -> str:
    """The file's text in ``encoding``, or in the one ``detect_encoding`` finds."""
    encoding = encoding or detect_encoding(data)
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementError(f"the text is not {encoding}", line=line) from exc
    except LookupError as exc:
        raise StatementError(f"the file states an unknown encoding {encoding[:40]!r}") from exc


def check_line_lengths(text: str, limit: int = MAX_LINE_CHARS) -> None:
    """Refuse a text with a line longer than ``limit``, naming the first such line."""
    start = 0
    line = 1
    length = len(text)
    while start < length:
        end = text.find("\n", start)
        end = length if end < 0 else end
        if end - start > limit:
            raise StatementError(
                f"the line is longer than {limit} characters (a statement line is a few hundred)",
                line=line,
            )
        start = end + 1
        line += 1
