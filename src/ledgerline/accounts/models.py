"""Accounts, where records sit, and the balance aggregates kept per account and day/month.

A balance is the account's opening balance plus the signed sum of its live records up to a
date: income and incoming transfer legs add, expense and outgoing legs subtract. The sums are
kept like the dashboard's (``dashboard.aggregates``): signed, in the writing transaction, at a
daily and a monthly grain, so a balance at any date reads the whole months before it and the
days of its own month, whatever the number of records.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, TimestampMixin
from ledgerline.core.ids import new_id


class AccountKind(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"
    CREDIT_CARD = "credit_card"
    CASH = "cash"
    LOAN = "loan"
    INVESTMENT = "investment"
    OTHER = "other"


KIND_VALUES = ", ".join(f"'{kind.value}'" for kind in AccountKind)


class AccountFacts(Protocol):
    """What a write checks of the account it goes to: a mapped ``Account``, or a row of
    these columns (a record's create reads them as plain values, which costs less)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...

    @property
    def currency(self) -> str: ...

    @property
    def reconciled_through(self) -> dt.date | None: ...


class Account(TimestampMixin, Base):
    """``name_key`` is the case-folded name (unique per org); ``is_default`` marks the account
    records of its currency go to when they name none (at most one per org and currency)."""

    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    institution: Mapped[str | None] = mapped_column(String(128), default=None)
    opening_balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    opening_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    reconciled_through: Mapped[dt.date | None] = mapped_column(Date, default=None)
    version: Mapped[int] = mapped_column(default=1)

    __table_args__ = (
        CheckConstraint(f"kind IN ({KIND_VALUES})", name="kind"),
        Index("uq_accounts_org_id_name_key", "org_id", "name_key", unique=True),
        Index(
            "uq_accounts_default_per_currency",
            "org_id",
            "currency",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )


def _org_key() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)


def _account_key() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)


class _SignedTotals:
    """The signed net change, as two summed halves (see ``dashboard.models``), and the count of
    live records behind it."""

    total_high: Mapped[int] = mapped_column(BigInteger, default=0)
    total_low: Mapped[int] = mapped_column(BigInteger, default=0)
    record_count: Mapped[int] = mapped_column(BigInteger, default=0)


class AccountDailyBalance(_SignedTotals, Base):
    """Net change of an account on one day."""

    __tablename__ = "account_daily_balances"

    org_id: Mapped[uuid.UUID] = _org_key()
    account_id: Mapped[uuid.UUID] = _account_key()
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)


class AccountMonthlyBalance(_SignedTotals, Base):
    """Net change of an account in one calendar month (its first day)."""

    __tablename__ = "account_monthly_balances"

    org_id: Mapped[uuid.UUID] = _org_key()
    account_id: Mapped[uuid.UUID] = _account_key()
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)


class Transfer(TimestampMixin, Base):
    """Money moved between two accounts of an org: two records (``transfer_id`` set, type
    ``transfer``), out of ``from_account_id`` with ``amount`` and into ``to_account_id`` with
    ``to_amount`` (equal to ``amount`` unless the accounts' currencies differ). The leg in
    ``from_account_id`` is the outgoing one: the two accounts always differ."""

    __tablename__ = "transfers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    from_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    to_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    to_amount_minor: Mapped[int] = mapped_column(BigInteger)
    to_currency: Mapped[str] = mapped_column(String(3))
    date: Mapped[dt.date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (
        CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
        CheckConstraint("amount_minor > 0 AND to_amount_minor > 0", name="amounts_positive"),
        Index(None, "org_id", "date"),
    )
