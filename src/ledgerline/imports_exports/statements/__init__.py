"""Reading bank statements: OFX/QFX, QIF, CAMT.052/053/054, MT940 and any bank's CSV through
a mapping, into rows and statement facts, without a database.

``read_statements(data, options)`` recognises the format from the content and reads every
statement in the file; ``suggest(data)`` proposes a CSV mapping; ``row_identities(rows)``
says which rows an earlier import already holds. Every problem with a file is a
``StatementError`` naming the line and what was expected there.
"""

from ledgerline.imports_exports.statements.dates import DATE_FORMATS, DateFormat
from ledgerline.imports_exports.statements.identity import RowIdentity, row_identities
from ledgerline.imports_exports.statements.mapping import CsvMapping
from ledgerline.imports_exports.statements.model import (
    MappingRequired,
    Statement,
    StatementError,
    StatementFile,
    StatementRow,
    StatementTooLarge,
    UnsupportedFormat,
)
from ledgerline.imports_exports.statements.registry import (
    ReadOptions,
    StatementFormat,
    all_formats,
    detect,
    read_statements,
)
from ledgerline.imports_exports.statements.suggest import OpenChoice, Suggestion, suggest
from ledgerline.imports_exports.statements.text import read_limited

__all__ = [
    "DATE_FORMATS",
    "CsvMapping",
    "DateFormat",
    "MappingRequired",
    "OpenChoice",
    "ReadOptions",
    "RowIdentity",
    "Statement",
    "StatementError",
    "StatementFile",
    "StatementFormat",
    "StatementRow",
    "StatementTooLarge",
    "Suggestion",
    "UnsupportedFormat",
    "all_formats",
    "detect",
    "read_limited",
    "read_statements",
    "row_identities",
    "suggest",
]
