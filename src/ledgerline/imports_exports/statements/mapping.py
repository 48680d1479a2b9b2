"""The CSV mapping of the contract: how to read one bank's CSV layout.

Columns are named by their header, or by their 0-based position when ``has_header`` is
false. The amount comes from exactly one of: a signed ``amount_column``; ``debit_column``
and/or ``credit_column``; or an unsigned ``amount_column`` with a ``direction_column``
whose ``debit_values`` mark expenses.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledgerline.imports_exports.statements.dates import DateFormat
from ledgerline.imports_exports.statements.text import Encoding

Column = Annotated[str, Field(min_length=1, max_length=200)] | Annotated[int, Field(ge=0, le=999)]
"""A header name, or a 0-based position when the file has no header."""
THOUSANDS_SEPARATORS = frozenset({".", ",", " ", "'", "\u00a0"})


class CsvMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quote_char: str = Field(default='"', min_length=1, max_length=1)
    encoding: Encoding | None = None
    """None: detected (UTF-8 with or without BOM, UTF-16 with BOM, else cp1252/ISO-8859)."""
    skip_rows: int = Field(default=0, ge=0, le=1_000)
    has_header: bool = True
    date_column: Column
    date_format: DateFormat
    amount_column: Column | None = None
    debit_column: Column | None = None
    credit_column: Column | None = None
    direction_column: Column | None = None
    debit_values: list[str] = Field(default_factory=list, max_length=20)
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: str | None = Field(default=None, max_length=1)
    negative_is: Literal["expense", "income"] = "expense"
    description_columns: list[Column] = Field(default_factory=list, max_length=10)
    category_column: Column | None = None
    external_id_column: Column | None = None
    currency_column: Column | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        by_columns = self.debit_column is not None or self.credit_column is not None
        if (self.amount_column is None) == (not by_columns):
            raise ValueError("give either amount_column or debit_column/credit_column")
        if self.direction_column is not None and (
            self.amount_column is None or not self.debit_values
        ):
            raise ValueError("direction_column needs amount_column and debit_values")
        if self.thousands_separator:
            if self.thousands_separator not in THOUSANDS_SEPARATORS:
                raise ValueError("thousands_separator must be one of . , ' or a space")
            if self.thousands_separator == self.decimal_separator:
                raise ValueError("thousands_separator must differ from decimal_separator")
        if self.delimiter == self.quote_char:
            raise ValueError("delimiter must differ from quote_char")
        references = [
            self.date_column,
            self.amount_column,
            self.debit_column,
            self.credit_column,
            self.direction_column,
            *self.description_columns,
            self.category_column,
            self.external_id_column,
            self.currency_column,
        ]
        if not self.has_header and any(isinstance(r, str) for r in references):
            raise ValueError("without a header, columns are named by their 0-based position")
        return self
