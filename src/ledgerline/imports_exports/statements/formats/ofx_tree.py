"""A small reader of OFX markup: 1.x SGML, whose leaf elements are left unclosed, and 2.x
XML alike, into a tree of elements.

The reader never expands entities or fetches anything: a document type declaration or
entity definition (which OFX never has) is refused, and only the standard character
references are unescaped, so no input can make it grow.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from ledgerline.imports_exports.statements.model import StatementError

_TOKEN: Final = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9._]*)\s*>([^<]*)")
"""A start or end tag and the text that follows it up to the next tag."""
_DECLARATION: Final = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_COMMENT_OR_PI: Final = re.compile(r"<!--.*?-->|<\?.*?\?>", re.DOTALL)


@dataclass(slots=True)
class Element:
    tag: str
    line: int
    text: str = ""
    children: list[Element] = field(default_factory=list)
    closed: bool = False

    def find(self, tag: str) -> Element | None:
        return next((child for child in self.children if child.tag == tag), None)

    def text_of(self, *path: str) -> str | None:
        """The text of the leaf at ``path`` below this element, or None."""
        node: Element | None = self
        for tag in path:
            node = node.find(tag) if node is not None else None
        return node.text if node is not None and node.text else None

    def outermost(self, *tags: str) -> Iterator[Element]:
        """The elements named one of ``tags`` below this one, in document order, without
        looking inside those found (statements do not nest)."""
        pending = list(reversed(self.children))
        while pending:
            element = pending.pop()
            if element.tag in tags:
                yield element
            else:
                pending.extend(reversed(element.children))


def _blank(match: re.Match[str]) -> str:
    """Comments and processing instructions removed, their newlines kept for line numbers."""
    return "\n" * match.group().count("\n")


def refuse_declarations(text: str) -> None:
    declaration = _DECLARATION.search(text)
    if declaration is not None:
        line = text.count("\n", 0, declaration.start()) + 1
        raise StatementError("OFX declares no entities or document type; refused", line=line)


def parse_ofx_body(text: str, first_line: int) -> Element:
    """The ``<OFX>`` element of ``text`` (which starts at ``<OFX>``, on ``first_line``)."""
    text = _COMMENT_OR_PI.sub(_blank, text)
    root = Element("#document", first_line)
    stack = [root]
    line = first_line
    consumed = 0
    last_leaf: Element | None = None
    for match in _TOKEN.finditer(text):
        if match.start() != consumed:
            line += text.count("\n", consumed, match.start())
        consumed = match.end()
        slash, name, following = match.groups()
        tag = name.upper()
        raw = following.strip()
        tag_line = line
        line += match.group().count("\n")
        if not slash:
            element = Element(tag, tag_line, html.unescape(raw) if "&" in raw else raw)
            stack[-1].children.append(element)
            if raw:
                last_leaf = element
            else:
                stack.append(element)
                last_leaf = None
            continue
        if last_leaf is not None and last_leaf.tag == tag:
            last_leaf = None
            continue
        last_leaf = None
        _close(stack, tag, tag_line)
    if len(stack) > 1:
        open_element = next(e for e in reversed(stack) if e.children)
        raise StatementError(
            f"the file ends inside <{open_element.tag}> opened on line {open_element.line}; "
            "expected its closing tag (was the download cut short?)",
            line=line,
        )
    ofx = root.find("OFX")
    if ofx is None:
        raise StatementError("expected an <OFX> element", line=first_line)
    return ofx


def _close(stack: list[Element], tag: str, line: int) -> None:
    """Close the innermost open ``tag``. Elements opened inside it and never closed were
    empty SGML leaves (``<MEMO>`` with no value): their supposed children move up."""
    if not any(element.tag == tag for element in stack[1:]):
        raise StatementError(f"</{tag[:40]}> closes no open element", line=line)
    while True:
        element = stack.pop()
        if element.tag == tag:
            element.closed = True
            return
        parent = stack[-1]
        parent.children.extend(element.children)
        element.children = []
