"""monthly and per-type daily aggregates, so a dashboard request reads few rows at any size

Both are filled from ``daily_totals``, which already sums every live record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = "sum(total_high), sum(total_low), sum(record_count)"


def _totals_columns() -> list[sa.Column[int]]:
    return [
        sa.Column("total_high", sa.BigInteger(), nullable=False),
        sa.Column("total_low", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
    ]


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["orgs.id"], name=op.f(f"fk_{table}_org_id_orgs"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "monthly_totals",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=7), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_totals_columns(),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_monthly_totals_category_id_categories"),
            ondelete="CASCADE",
        ),
        _org_fk("monthly_totals"),
        sa.PrimaryKeyConstraint(
            "org_id", "month", "type", "category_id", "currency", name=op.f("pk_monthly_totals")
        ),
    )
    op.create_table(
        "daily_type_totals",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *_totals_columns(),
        _org_fk("daily_type_totals"),
        sa.PrimaryKeyConstraint(
            "org_id", "day", "type", "currency", name=op.f("pk_daily_type_totals")
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "date(day, 'start of month')"
    # Constant SQL of this migration, no outside value in it.
    op.execute(
        "INSERT INTO monthly_totals (org_id, month, type, category_id, currency, "  # noqa: S608
        f"total_high, total_low, record_count) SELECT org_id, {month}, type, category_id, "
        f"currency, {SUMS} FROM daily_totals GROUP BY org_id, {month}, type, category_id, currency"
    )
    op.execute(
        "INSERT INTO daily_type_totals (org_id, day, type, currency, "  # noqa: S608
        f"total_high, total_low, record_count) SELECT org_id, day, type, currency, {SUMS} "
        "FROM daily_totals GROUP BY org_id, day, type, currency"
    )


def downgrade() -> None:
    op.drop_table("daily_type_totals")
    op.drop_table("monthly_totals")
