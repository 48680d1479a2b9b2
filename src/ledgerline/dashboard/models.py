"""The dashboard aggregates: sums of live income and expense records at three grains, each
also per account (so every figure can be filtered by account), all changed in the same
transaction as every record write, so they never drift from the records.

A request reads the coarsest grain that answers it exactly: whole months from
``monthly_totals``, the days at either end of a range from ``daily_totals`` (per category) or
``daily_type_totals`` (all categories), so its cost depends on the length of the range, not on
how many records it holds.

A sum is kept as two columns, ``total = total_high * 2**32 + total_low``, each a sum of one half
of the amounts: neither can overflow a 64-bit integer (SQLite's SUM raises on overflow) before
two billion records, whatever amounts the API accepts.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base


def _org_key() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)


def _category_key() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True)


def _account_key() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)


class _Totals:
    """The summed columns; each grain declares its key columns itself, in key order."""

    total_high: Mapped[int] = mapped_column(BigInteger, default=0)
    total_low: Mapped[int] = mapped_column(BigInteger, default=0)
    record_count: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyTotal(_Totals, Base):
    """Per org, day, type, category and currency."""

    __tablename__ = "daily_totals"

    org_id: Mapped[uuid.UUID] = _org_key()
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(7), primary_key=True)
    category_id: Mapped[uuid.UUID] = _category_key()
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    account_id: Mapped[uuid.UUID] = _account_key()


class MonthlyTotal(_Totals, Base):
    """Per org, calendar month (its first day), type, category and currency."""

    __tablename__ = "monthly_totals"

    org_id: Mapped[uuid.UUID] = _org_key()
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(7), primary_key=True)
    category_id: Mapped[uuid.UUID] = _category_key()
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    account_id: Mapped[uuid.UUID] = _account_key()


class DailyTypeTotal(_Totals, Base):
    """Per org, day, type and currency, all categories together: day and week trends, and
    the days at the ends of a range when categories do not matter."""

    __tablename__ = "daily_type_totals"

    org_id: Mapped[uuid.UUID] = _org_key()
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    account_id: Mapped[uuid.UUID] = _account_key()
