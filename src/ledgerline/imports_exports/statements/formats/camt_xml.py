"""CAMT's XML read as a stream: each entry (``Ntry``) of a statement is handed on as soon as
its end tag is read, then dropped from the tree, so memory holds one entry and the
statements' headers, not the whole document. Elements are named by their local name (any
CAMT version's namespace dropped).

The parser is the standard library's expat hardened by defusedxml, with document type
declarations forbidden: entity expansion (billion laughs) and external entities are
refused before anything is expanded or fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml.ElementTree import DefusedXMLParser

LINE: Final = "{urn:ledgerline}line"
"""Attribute added to each element: the line its start tag is on."""
ENTRY_DEPTH: Final = 3
"""Document > BkToCstmrStmt > Stmt > Ntry: an entry's ancestors when its end tag is read."""
_CHUNK: Final = 1 << 16

EntryHandler = Callable[[Element, Element], None]
"""Called with (statement element, entry element) for each complete entry."""


def line_of(element: Element | None) -> int | None:
    return int(element.get(LINE, "0")) or None if element is not None else None


class _EntryStreaming(TreeBuilder):
    def __init__(self, on_entry: EntryHandler) -> None:
        super().__init__()
        self.expat: Any = None
        self._open: list[Element] = []
        self._on_entry = on_entry

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        name = tag.rsplit("}", 1)[-1]
        element = super().start(name, {**attrs, LINE: str(self.expat.CurrentLineNumber)})
        self._open.append(element)
        return element

    def end(self, tag: str) -> Element:
        element = super().end(tag)
        self._open.pop()
        if len(self._open) == ENTRY_DEPTH and element.tag == "Ntry":
            statement = self._open[-1]
            self._on_entry(statement, element)
            statement.remove(element)
        return element


def read_camt(data: bytes, on_entry: EntryHandler) -> Element:
    """The document without its entries, which went to ``on_entry`` one by one.

    Raises defusedxml's exceptions for declarations, ParseError for malformed XML, and
    whatever ``on_entry`` raises.
    """
    builder = _EntryStreaming(on_entry)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.expat = parser.parser
    for start in range(0, len(data), _CHUNK):
        parser.feed(data[start : start + _CHUNK])
    root: Element = parser.close()
    return root
