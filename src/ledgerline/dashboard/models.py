from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base


class DailyTotal(Base):
    """Per-org daily aggregate of live records: what every dashboard figure is computed from.

    Changed in the same transaction as every record write, so it never drifts from the records.
    A sum is kept as two columns, ``total = total_high * 2**32 + total_low``, each a sum of one
    half of the amounts: neither can overflow a 64-bit integer (SQLite's SUM raises on overflow)
    before two billion records, whatever amounts the API accepts.
    """

    __tablename__ = "daily_totals"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    type: Mapped[str] = mapped_column(String(7), primary_key=True)
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    total_high: Mapped[int] = mapped_column(BigInteger, default=0)
    total_low: Mapped[int] = mapped_column(BigInteger, default=0)
    record_count: Mapped[int] = mapped_column(BigInteger, default=0)
