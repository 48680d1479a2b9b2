from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator

from ledgerline.core.money import Amount, PublishedCurrency, normalize_currency
from ledgerline.core.schemas import (
    CalendarDate,
    RequestModel,
    ResponseModel,
    ends_after_start,
    not_nullable,
)
from ledgerline.core.text import (
    CleanText,
    PublishedCleanText,
    PublishedNonBlankText,
    RejectControlCharacters,
    reject_control_characters,
)
from ledgerline.records.types import RecordType as RecordType  # noqa: PLC0414 - re-exported


class EntryType(StrEnum):
    """What a record is in answers: also ``transfer``, a transfer's leg (changed through its
    transfer only)."""

    INCOME = "income"
    EXPENSE = "expense"
    TRANSFER = "transfer"


# The constraints come right after the type so that they act on the string itself: after an
# after-validator, pydantic would check the length before stripping.
CategoryName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    RejectControlCharacters,
    PublishedNonBlankText,
]
Notes = Annotated[
    str,
    StringConstraints(max_length=1000),
    AfterValidator(reject_control_characters),
    PublishedCleanText,
]
RecordDate = CalendarDate
Currency = Annotated[str, Field(min_length=1, max_length=8, examples=["USD"]), PublishedCurrency]


def _currency(value: str | None) -> str | None:
    return None if value is None else normalize_currency(value)


class RecordCreate(RequestModel):
    amount: Amount
    type: RecordType
    category: CategoryName
    date: RecordDate
    notes: Notes | None = None
    currency: Currency | None = Field(
        default=None,
        description="ISO 4217; defaults to the account's currency, else the org's",
    )
    account_id: uuid.UUID | None = Field(
        default=None,
        description="the account it sits in; default: the default account of its currency",
    )

    _check_currency = field_validator("currency")(_currency)


class RecordUpdate(RequestModel):
    """Every field optional; only the fields sent change. ``notes: null`` clears the notes."""

    amount: Amount | None = Field(default=None, json_schema_extra=not_nullable)
    type: RecordType | None = Field(default=None, json_schema_extra=not_nullable)
    category: CategoryName | None = Field(default=None, json_schema_extra=not_nullable)
    date: RecordDate | None = Field(default=None, json_schema_extra=not_nullable)
    notes: Notes | None = None
    currency: Currency | None = Field(default=None, json_schema_extra=not_nullable)
    account_id: uuid.UUID | None = Field(
        default=None,
        description="move it to this account (in its currency); a change of currency alone "
        "moves it to the default account of the new currency",
    )

    _check_currency = field_validator("currency")(_currency)

    @field_validator("amount", "type", "category", "date", "currency", "account_id", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class RecordRead(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    amount: str = Field(examples=["1234.50"])
    currency: str
    type: EntryType
    category: str | None = Field(description="null on a transfer's legs")
    date: dt.date
    notes: str | None
    account_id: uuid.UUID
    transfer_id: uuid.UUID | None = Field(description="set on the two legs of a transfer")
    external_id: str | None = Field(description="the bank's id, when imported with one")
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    version: int


class RecordPage(ResponseModel):
    items: list[RecordRead]
    next_cursor: str | None
    total: int | None = Field(
        default=None,
        description="present when include_total=true",
        exclude_if=lambda total: total is None,
    )


class RecordTotals(ResponseModel):
    """The figures of a filtered view, for one currency."""

    currency: str
    income: str
    expense: str
    net: str
    count: int


class RecordSort(StrEnum):
    DATE_DESC = "-date"
    DATE_ASC = "date"
    AMOUNT_DESC = "-amount"
    AMOUNT_ASC = "amount"
    CREATED_DESC = "-created_at"
    CREATED_ASC = "created_at"


class DeletedFilter(StrEnum):
    ONLY = "only"


class CategoryRead(ResponseModel):
    name: str
    record_count: int


_BOUND = r"^\d{1,13}(\.\d{1,4})?$"
SCALE = 10_000
"""``amount_scaled`` units per major unit (four decimals, the most any currency has)."""


class RecordFilters(RequestModel):
    """Filters shared by the record list, the CSV export and (dates only) the dashboards."""

    type: RecordType | None = None
    category: list[Annotated[CleanText, Field(max_length=64)]] = Field(
        default_factory=list, description="exact category, case-insensitive; may repeat"
    )
    date_from: RecordDate | None = None
    date_to: RecordDate | None = None
    amount_min: Annotated[str | None, Field(pattern=_BOUND, examples=["10.00"])] = None
    amount_max: Annotated[str | None, Field(pattern=_BOUND, examples=["250.00"])] = None
    currency: Currency | None = None
    q: Annotated[CleanText | None, Field(min_length=1, max_length=200)] = None
    account_id: list[uuid.UUID] = Field(
        default_factory=list, description="records of these accounts; may repeat"
    )

    _check_currency = field_validator("currency")(_currency)

    _ordered_dates = field_validator("date_to")(ends_after_start)

    @field_validator("amount_max")
    @classmethod
    def _ordered_amounts(cls, value: str | None, info: ValidationInfo) -> str | None:
        low = info.data.get("amount_min")
        if value is not None and low is not None and Decimal(low) > Decimal(value):
            raise ValueError("must not be below amount_min")
        return value

    @staticmethod
    def scaled(bound: str | None) -> int | None:
        return None if bound is None else int(Decimal(bound) * SCALE)


class RecordListQuery(RecordFilters):
    sort: RecordSort = RecordSort.DATE_DESC
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=2000)] = None
    offset: Annotated[int | None, Field(ge=0, le=10_000)] = Field(
        default=None, description="for small offsets; cursor is the fast path"
    )
    include_total: bool = False
    deleted: DeletedFilter | None = Field(
        default=None, description="admins only: `only` lists soft-deleted records"
    )
