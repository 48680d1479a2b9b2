from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from ledgerline.accounts.models import AccountKind
from ledgerline.core.money import Amount, normalize_currency
from ledgerline.core.schemas import RequestModel, ResponseModel, not_nullable
from ledgerline.core.text import (
    PublishedCleanText,
    PublishedNonBlankText,
    RejectControlCharacters,
)
from ledgerline.dashboard.schemas import DateRange, Granularity, Money
from ledgerline.records.schemas import Currency, Notes, RecordDate

AccountName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    RejectControlCharacters,
    PublishedNonBlankText,
]
Institution = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=128),
    RejectControlCharacters,
    PublishedCleanText,
]
_SIGNED_AMOUNT = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,4})?")


def _signed_amount(value: object) -> Decimal:
    """A balance may be negative or zero (a card, a loan): ``-?digits[.digits]``, as text or a
    JSON integer; the currency's decimals are checked once it is known."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError("must be a decimal string such as -250.00")
    if isinstance(value, Decimal):
        value = _whole_number(value)
    text = str(value).strip()
    if not _SIGNED_AMOUNT.fullmatch(text):
        raise ValueError("must be a decimal string such as -250.00, at most 12 integer digits")
    return Decimal(text)


def _whole_number(value: Decimal) -> int:
    """A JSON number is taken only when whole (``-250`` or ``-250.0``, which JSON Schema calls
    an integer): a fraction as a number would come through a binary float in most clients."""
    if not value.is_finite() or value.adjusted() >= 13 or value != value.to_integral_value():
        raise ValueError("must be a decimal string such as -250.00, or a whole number")
    return int(value)


SignedAmount = Annotated[
    Decimal,
    BeforeValidator(_signed_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^{_SIGNED_AMOUNT.pattern}$"},
                {"type": "integer", "minimum": -(10**12) + 1, "maximum": 10**12 - 1},
            ],
            "description": "amount in major units, may be negative or zero",
            "examples": ["-250.00"],
        },
        mode="validation",
    ),
]


def _currency(value: str | None) -> str | None:
    return None if value is None else normalize_currency(value)


class AccountCreate(RequestModel):
    name: AccountName
    kind: AccountKind = AccountKind.CHECKING
    currency: Currency | None = Field(default=None, description="defaults to the org's currency")
    institution: Institution | None = None
    opening_balance: SignedAmount = Decimal(0)
    opening_date: RecordDate | None = Field(
        default=None, description="the opening balance counts from this date (always if null)"
    )

    _check_currency = field_validator("currency")(_currency)


class AccountUpdate(RequestModel):
    """Every field optional; only the fields sent change."""

    name: AccountName | None = Field(default=None, json_schema_extra=not_nullable)
    kind: AccountKind | None = Field(default=None, json_schema_extra=not_nullable)
    currency: Currency | None = Field(default=None, json_schema_extra=not_nullable)
    institution: Institution | None = None
    opening_balance: SignedAmount | None = Field(default=None, json_schema_extra=not_nullable)
    opening_date: RecordDate | None = None
    archived: StrictBool | None = Field(default=None, json_schema_extra=not_nullable)
    reconciled_through: RecordDate | None = Field(
        default=None,
        description="reopen a closed period: an earlier date, or null to reopen every one; "
        "moving it forward is what reconciling does",
    )

    _check_currency = field_validator("currency")(_currency)

    @field_validator("name", "kind", "currency", "opening_balance", "archived", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class AccountRead(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    kind: AccountKind
    currency: str
    institution: str | None
    opening_balance: Money
    opening_date: dt.date | None
    archived: bool
    is_default: bool = Field(
        description="records of its currency sent without account_id go to this account"
    )
    balance: Money = Field(description="at the end of `on` (default: today, UTC)")
    reconciled_through: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class AccountListQuery(RequestModel):
    include_archived: bool = False
    on: RecordDate | None = Field(default=None, description="balances at this date; default today")


class BalanceOn(RequestModel):
    on: RecordDate | None = Field(default=None, description="balance at this date; default today")


class BalancesQuery(DateRange):
    granularity: Granularity = Granularity.MONTH


class BalancePoint(ResponseModel):
    period: str = Field(examples=["2026-03", "2026-W09", "2026-03-01"])
    balance: Money = Field(description="at the end of the period (or of the range within it)")


class TransferCreate(RequestModel):
    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount: Amount = Field(description="leaves the source account, in its currency")
    to_amount: Amount | None = Field(
        default=None,
        description="arrives in the destination account, in its currency; required between "
        "accounts of different currencies, else equal to amount",
    )
    currency: Currency | None = Field(default=None, description="if sent, the source's")
    to_currency: Currency | None = Field(default=None, description="if sent, the destination's")
    date: RecordDate
    notes: Notes | None = None

    _check_currency = field_validator("currency", "to_currency")(_currency)


class TransferUpdate(RequestModel):
    """Amounts, date and notes; the accounts of a transfer stay (delete it and make another)."""

    amount: Amount | None = Field(default=None, json_schema_extra=not_nullable)
    to_amount: Amount | None = Field(default=None, json_schema_extra=not_nullable)
    date: RecordDate | None = Field(default=None, json_schema_extra=not_nullable)
    notes: Notes | None = None

    @field_validator("amount", "to_amount", "date", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null")
        return value


class TransferRead(ResponseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount: Money
    currency: str
    to_amount: Money
    to_currency: str
    date: dt.date
    notes: str | None
    record_ids: list[uuid.UUID] = Field(description="the outgoing leg, then the incoming one")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ReconcileRequest(RequestModel):
    statement_date: RecordDate
    statement_balance: SignedAmount
    lock: StrictBool = Field(
        default=False,
        description="with a zero difference, close the account's records up to statement_date",
    )


class ReconcileResult(ResponseModel):
    statement_date: dt.date
    statement_balance: Money
    computed_balance: Money = Field(description="the account's balance at statement_date")
    difference: Money = Field(description="statement_balance minus computed_balance")
    locked: bool = Field(description="true when reconciled_through now covers statement_date")
    reconciled_through: dt.date | None


class NetWorthBy(StrEnum):
    ACCOUNT = "account"


class NetWorthQuery(BalancesQuery):
    by: NetWorthBy | None = Field(default=None, description="`account`: one series per account")
    account_id: list[uuid.UUID] = Field(
        default_factory=list, description="only these accounts; may repeat"
    )


class NetWorthPoint(ResponseModel):
    period: str = Field(examples=["2026-03", "2026-W09", "2026-03-01"])
    currency: str
    balance: Money = Field(description="non-archived accounts together, at the period's end")
    account_id: uuid.UUID | None = Field(
        default=None,
        description="with by=account",
        exclude_if=lambda account_id: account_id is None,
    )
