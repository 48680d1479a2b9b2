from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, TimestampMixin
from ledgerline.core.ids import new_id

NOT_DELETED = text("deleted_at IS NULL")


class Category(Base):
    """Per-org category; ``name_key`` is the case-folded name, ``name`` the first spelling seen."""

    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(255))
    """Case folding can lengthen text (``ß`` -> ``ss``, ``ﬃ`` -> ``ffi``): up to 3x 64."""

    __table_args__ = (Index("uq_categories_org_id_name_key", "org_id", "name_key", unique=True),)


class Record(TimestampMixin, Base):
    __tablename__ = "records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    """The exact amount in the currency's minor unit (cents for USD)."""
    amount_scaled: Mapped[int] = mapped_column(BigInteger)
    """The amount in ten-thousandths of a major unit, whatever the currency's decimals, so
    amount filters and sorts compare values rather than minor-unit counts across currencies."""
    currency: Mapped[str] = mapped_column(String(3))
    type: Mapped[str] = mapped_column(String(8))
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("categories.id"))
    """None only on a transfer's legs, which belong to no category."""
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"))
    """The account the record sits in; its currency is the record's."""
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("transfers.id"), default=None)
    """Set on the two records of a transfer (its legs, type ``transfer``)."""
    date: Mapped[dt.date] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    search_key: Mapped[str] = mapped_column(Text)
    """Case-folded category and notes, for ``q`` searches that behave alike on both databases."""
    external_id: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    """Content hash of an imported row without ``external_id``, for duplicate detection."""
    import_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The CSV import that created the record (None when created through the API)."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    __table_args__ = (
        CheckConstraint("type IN ('income', 'expense', 'transfer')", name="type"),
        CheckConstraint(
            "(type = 'transfer') = (transfer_id IS NOT NULL) "
            "AND (type = 'transfer') = (category_id IS NULL)",
            name="transfer_legs",
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index(
            "ix_records_live_date",
            "org_id",
            "date",
            "id",
            postgresql_where=NOT_DELETED,
            sqlite_where=NOT_DELETED,
        ),
        Index(
            "ix_records_live_amount",
            "org_id",
            "amount_scaled",
            "id",
            postgresql_where=NOT_DELETED,
            sqlite_where=NOT_DELETED,
        ),
        Index(
            "ix_records_live_created",
            "org_id",
            "created_at",
            "id",
            postgresql_where=NOT_DELETED,
            sqlite_where=NOT_DELETED,
        ),
        Index(
            "ix_records_live_category_date",
            "org_id",
            "category_id",
            "date",
            "id",
            postgresql_where=NOT_DELETED,
            sqlite_where=NOT_DELETED,
        ),
        Index("ix_records_account_id_date", "account_id", "date"),
        Index(
            "ix_records_transfer_id",
            "transfer_id",
            postgresql_where=text("transfer_id IS NOT NULL"),
            sqlite_where=text("transfer_id IS NOT NULL"),
        ),
        Index(
            "ix_records_deleted",
            "org_id",
            "deleted_at",
            "id",
            postgresql_where=text("deleted_at IS NOT NULL"),
            sqlite_where=text("deleted_at IS NOT NULL"),
        ),
        Index(
            "uq_records_org_id_external_id",
            "org_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
            sqlite_where=text("external_id IS NOT NULL"),
        ),
        Index(
            "ix_records_org_id_fingerprint",
            "org_id",
            "fingerprint",
            postgresql_where=text("fingerprint IS NOT NULL"),
            sqlite_where=text("fingerprint IS NOT NULL"),
        ),
    )
