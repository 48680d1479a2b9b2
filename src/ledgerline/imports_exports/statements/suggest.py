"""A proposed CSV mapping, read from a bank file's header names and sample values.

What the samples cannot decide is reported as an open choice, never guessed: a date
column whose every day is 12 or less reads as both DD/MM and MM/DD, amounts such as
``1,234`` read as either decimal separator, and so on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from ledgerline.imports_exports.statements.dates import candidates
from ledgerline.imports_exports.statements.formats.csv_mapped import CSV, DELIMITERS, read_mapped
from ledgerline.imports_exports.statements.headers import DEBIT_TOKENS, Role, best_role, normalize
from ledgerline.imports_exports.statements.mapping import Column, CsvMapping
from ledgerline.imports_exports.statements.model import StatementError, StatementRow
from ledgerline.imports_exports.statements.registry import detect
from ledgerline.imports_exports.statements.text import check_line_lengths, decode, detect_encoding

SAMPLE_LINES: Final = 200
SAMPLE_ROWS: Final = 50
PREVIEW_ROWS: Final = 10
_NUMBER: Final = re.compile(r"\A[(+-]?\s*[0-9][0-9.,' \u00a0]*\s*[)+-]?\Z")
_CURRENCY_CODE: Final = re.compile(r"\A[A-Za-z]{3}\Z")
_SINGLE: Final[tuple[Role, ...]] = (
    "date", "amount", "debit", "credit", "direction", "category", "external_id", "currency",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpenChoice:
    field: str
    options: list[str]
    reason: str


@dataclass(slots=True)
class Suggestion:
    proposed: dict[str, Any]
    """Every key of a mapping; the ones in ``choices`` are None until chosen."""
    columns: list[str]
    choices: list[OpenChoice] = field(default_factory=list)
    mapping: CsvMapping | None = None
    """The proposed mapping, when nothing is left to choose."""
    preview: list[StatementRow] = field(default_factory=list)
    problem: str | None = None
    """Why the file does not read with the complete proposed mapping, if it does not."""


def _rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(physical line, cells) of the sample's non-empty rows; broken quoting ends it."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    consumed = 0
    with contextlib.suppress(csv.Error):
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((consumed + 1, cells))
            consumed = reader.line_num
    return rows


def _table(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The delimiter that splits most rows into the same number (>1) of cells, and the
    rows from the first of that width on (what precedes is a preamble)."""
    best: tuple[int, int, str, list[tuple[int, list[str]]]] = (0, 0, ",", [])
    for delimiter in DELIMITERS:
        rows = _rows(text, delimiter)
        widths = Counter(len(cells) for _, cells in rows if len(cells) > 1)
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        table = [row for row in rows if len(row[1]) == width]
        if (count, width) > best[:2]:
            best = (count, width, delimiter, table)
    if not best[3]:
        raise StatementError("expected a table: no line splits into columns by , ; tab or |")
    return best[2], best[3]


def _is_number(value: str) -> bool:
    return bool(_NUMBER.match(value.strip())) and any(c.isdigit() for c in value)


def _decimal_votes(values: list[str]) -> set[str]:
    """The decimal separators the amounts show; a lone separator before exactly three
    digits (``1,234``) shows neither."""
    votes: set[str] = set()
    for value in values:
        digits = value.strip().strip("()+-").strip()
        last = max(digits.rfind("."), digits.rfind(","))
        if last < 0:
            continue
        mark = digits[last]
        other = "," if mark == "." else "."
        if other in digits[:last] or len(digits) - last - 1 != 3:
            votes.add(mark)
        elif digits.count(mark) > 1:
            votes.add(other)
    return votes


class _Proposal:
    def __init__(self, header: list[str] | None, data: list[list[str]]) -> None:
        self.header = header
        self.width = len(data[0]) if data else len(header or [])
        self.columns: list[list[str]] = [
            [row[i].strip() for row in data if i < len(row)] for i in range(self.width)
        ]
        self.choices: list[OpenChoice] = []
        self.roles: dict[Role, int] = {}
        self.descriptions: list[int] = []

    def name(self, position: int) -> Column:
        return self.header[position].strip() if self.header else position

    def fits(self, role: Role, position: int) -> bool:
        values = [v for v in self.columns[position] if v]
        if role == "date":
            return bool(candidates(values))
        if role in {"amount", "debit", "credit"}:
            return all(_is_number(v) for v in values)
        if role == "currency":
            return all(_CURRENCY_CODE.match(v) for v in values)
        return True

    def assign_by_header(self) -> None:
        ranked: dict[Role, list[tuple[tuple[int, int], int]]] = {}
        for position, name in enumerate(self.header or []):
            found = best_role(name)
            if found is None:
                continue
            role, position_rank = found
            if role == "description":
                self.descriptions.append(position)
            elif self.fits(role, position):
                ranked.setdefault(role, []).append((position_rank, position))
            elif role == "currency" and self.fits("date", position):
                ranked.setdefault("date", []).append(((2, 0), position))
        for role in _SINGLE:
            if role in ranked:
                self.roles[role] = min(ranked[role])[1]

    def assign_by_values(self) -> None:
        taken = set(self.roles.values()) | set(self.descriptions)
        free = [i for i in range(self.width) if i not in taken and any(self.columns[i])]
        if "date" not in self.roles:
            dated = [i for i in free if self.fits("date", i)]
            if dated:
                self.roles["date"] = dated[0]
                free.remove(dated[0])
        money = {"amount", "debit", "credit"} & set(self.roles)
        if not money:
            numbers = [i for i in free if self.fits("amount", i)]
            if len(numbers) == 1:
                self.roles["amount"] = numbers[0]
                free.remove(numbers[0])
            elif numbers:
                options = [str(self.name(i)) for i in numbers]
                self.choices.append(
                    OpenChoice("amount_column", options, "several columns hold amounts")
                )
        if not self.descriptions and not self.header:
            texts = [i for i in free if not self.fits("amount", i)]
            if texts:
                longest = max(texts, key=lambda i: sum(len(v) for v in self.columns[i]))
                self.descriptions.append(longest)

    def column(self, role: Role) -> Column | None:
        return self.name(self.roles[role]) if role in self.roles else None

    def date_fields(self) -> dict[str, Any]:
        if "date" not in self.roles:
            options = [str(self.name(i)) for i in range(self.width)]
            self.choices.append(OpenChoice("date_column", options, "no column holds dates"))
            return {"date_column": None, "date_format": None}
        formats = candidates(self.columns[self.roles["date"]])
        if len(formats) != 1:
            reason = (
                "the dates read in several formats (every day in the samples is 12 or less)"
                if formats
                else "no format of the list reads every date of the column"
            )
            self.choices.append(OpenChoice("date_format", list(formats), reason))
        return {
            "date_column": self.column("date"),
            "date_format": formats[0] if len(formats) == 1 else None,
        }

    def amount_fields(self) -> dict[str, Any]:
        roles = self.roles
        fields: dict[str, Any] = {
            "amount_column": None,
            "debit_column": self.column("debit"),
            "credit_column": self.column("credit"),
            "direction_column": None,
            "debit_values": [],
        }
        if "amount" in roles and not ("debit" in roles and "credit" in roles):
            fields.update(
                amount_column=self.column("amount"), debit_column=None, credit_column=None
            )
            signed = any(v.strip().startswith("-") for v in self.columns[roles["amount"]])
            if "direction" in roles and not signed:
                fields.update(self._direction())
        elif not ({"debit", "credit"} & set(roles)) and not any(
            c.field == "amount_column" for c in self.choices
        ):
            options = [str(self.name(i)) for i in range(self.width)]
            self.choices.append(OpenChoice("amount_column", options, "no column holds amounts"))
        return fields

    def _direction(self) -> dict[str, Any]:
        values = list(dict.fromkeys(v for v in self.columns[self.roles["direction"]] if v))
        debit_values = [v for v in values if normalize(v) in DEBIT_TOKENS]
        if not debit_values:
            self.choices.append(
                OpenChoice(
                    "debit_values",
                    values[:20],
                    "which values of the direction column mark money out",
                )
            )
        return {"direction_column": self.column("direction"), "debit_values": debit_values}

    def separator_fields(self) -> dict[str, Any]:
        values = [
            v for role in ("amount", "debit", "credit") if role in self.roles
            for v in self.columns[self.roles[role]] if v
        ]  # fmt: skip
        votes = _decimal_votes(values)
        if len(votes) == 1:
            decimal = votes.pop()
        elif votes or any("," in v or "." in v for v in values):
            self.choices.append(
                OpenChoice(
                    "decimal_separator",
                    [".", ","],
                    "the amounts do not show which separator marks the decimals",
                )
            )
            return {"decimal_separator": None, "thousands_separator": None}
        else:
            decimal = "."
        return {"decimal_separator": decimal, "thousands_separator": "," if decimal == "." else "."}


def _looks_like_header(cells: list[str]) -> bool:
    if any(best_role(cell) for cell in cells):
        return True
    return not any(_is_number(cell) or candidates([cell]) for cell in cells)


def _sample(text: str) -> str:
    stream = io.StringIO(text, newline="")
    return "".join(stream.readline() for _ in range(SAMPLE_LINES))


def suggest(data: bytes, *, default_currency: str | None = None) -> Suggestion:
    """A mapping for the bank CSV ``data``, the choices left open, and when none are, the
    first rows as they would be imported."""
    statement_format = detect(data)
    if statement_format.name != CSV:
        raise StatementError(f"the file is {statement_format.title}, read without a mapping")
    encoding = detect_encoding(data)
    text = decode(data, encoding)
    check_line_lengths(text)
    delimiter, table = _table(_sample(text))
    first_line, first = table[0]
    has_header = _looks_like_header(first)
    data_rows = [cells for _, cells in table[1 if has_header else 0 :]][:SAMPLE_ROWS]
    proposal = _Proposal(first if has_header else None, data_rows)
    if has_header:
        proposal.assign_by_header()
    proposal.assign_by_values()
    proposed: dict[str, Any] = {
        "delimiter": delimiter,
        "quote_char": '"',
        "encoding": encoding,
        "skip_rows": first_line - 1,
        "has_header": has_header,
        **proposal.date_fields(),
        **proposal.amount_fields(),
        **proposal.separator_fields(),
        "negative_is": "expense",
        "description_columns": [proposal.name(i) for i in proposal.descriptions],
        "category_column": proposal.column("category"),
        "external_id_column": proposal.column("external_id"),
        "currency_column": proposal.column("currency"),
    }
    columns = [c.strip() for c in first] if has_header else [str(i) for i in range(len(first))]
    suggestion = Suggestion(proposed, columns, proposal.choices)
    if not suggestion.choices:
        _preview(data, suggestion, default_currency)
    return suggestion


def _preview(data: bytes, suggestion: Suggestion, default_currency: str | None) -> None:
    try:
        mapping = CsvMapping.model_validate(suggestion.proposed)
    except ValidationError as exc:
        suggestion.problem = str(exc.errors()[0]["msg"])
        return
    suggestion.mapping = mapping
    try:
        suggestion.preview = (
            read_mapped(data, mapping, default_currency).statements[0].rows[:PREVIEW_ROWS]
        )
    except StatementError as exc:
        suggestion.problem = str(exc)
