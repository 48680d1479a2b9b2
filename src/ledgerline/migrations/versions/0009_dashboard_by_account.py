"""dashboard aggregates per account too, so every dashboard figure can be filtered by account

The three dashboard aggregate tables gain ``account_id`` in their key; they are rebuilt from
the live income and expense records (transfers never count there). Going down rebuilds them
without it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HALF = 2**32
SUMS = f"sum(amount_minor / {HALF}), sum(amount_minor % {HALF}), count(*)"
LIVE = "FROM records WHERE deleted_at IS NULL AND transfer_id IS NULL"


def _table(name: str, period: str, *, by_category: bool, by_account: bool) -> None:
    key = ["org_id", period, "type", *(["category_id"] if by_category else []), "currency"]
    key += ["account_id"] if by_account else []
    columns: list[Any] = [
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=7), nullable=False),
        *([sa.Column("category_id", sa.Uuid(), nullable=False)] if by_category else []),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *([sa.Column("account_id", sa.Uuid(), nullable=False)] if by_account else []),
        sa.Column("total_high", sa.BigInteger(), nullable=False),
        sa.Column("total_low", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
    ]
    constraints: list[Any] = [
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f(f"fk_{name}_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")),
    ]
    if by_category:
        constraints.append(
            sa.ForeignKeyConstraint(
                ["category_id"],
                ["categories.id"],
                name=op.f(f"fk_{name}_category_id_categories"),
                ondelete="CASCADE",
            )
        )
    if by_account:
        constraints.append(
            sa.ForeignKeyConstraint(
                ["account_id"],
                ["accounts.id"],
                name=op.f(f"fk_{name}_account_id_accounts"),
                ondelete="CASCADE",
            )
        )
    op.create_table(name, *columns, *constraints)


def _rebuild(*, by_account: bool) -> None:
    for name in ("daily_totals", "monthly_totals", "daily_type_totals"):
        op.drop_table(name)
    _table("daily_totals", "day", by_category=True, by_account=by_account)
    _table("monthly_totals", "month", by_category=True, by_account=by_account)
    _table("daily_type_totals", "day", by_category=False, by_account=by_account)
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', date)::date"
    else:
        month = "date(date, 'start of month')"
    account = ", account_id" if by_account else ""
    # Constant SQL of this migration, no outside value in it.
    for table, period, category in [
        ("daily_totals", "date", ", category_id"),
        ("monthly_totals", month, ", category_id"),
        ("daily_type_totals", "date", ""),
    ]:
        target = "month" if table == "monthly_totals" else "day"
        op.execute(
            f"INSERT INTO {table} (org_id, {target}, type{category}, currency{account}, "
            f"total_high, total_low, record_count) SELECT org_id, {period}, type{category}, "
            f"currency{account}, {SUMS} {LIVE} "
            f"GROUP BY org_id, {period}, type{category}, currency{account}"
        )


def upgrade() -> None:
    _rebuild(by_account=True)


def downgrade() -> None:
    _rebuild(by_account=False)
