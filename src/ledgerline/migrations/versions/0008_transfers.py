"""transfers: two records of type transfer, in no category

Creates ``transfers``; records gain ``transfer_id``, their ``type`` may be ``transfer`` (a
leg), and ``category_id`` is null exactly on legs. Going down deletes the legs and the
transfers, and recounts the balance aggregates without them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HALF = 2**32
LEGS = (
    "(type = 'transfer') = (transfer_id IS NOT NULL) "
    "AND (type = 'transfer') = (category_id IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("to_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_account_id <> to_account_id", name=op.f("ck_transfers_distinct_accounts")
        ),
        sa.CheckConstraint(
            "amount_minor > 0 AND to_amount_minor > 0", name=op.f("ck_transfers_amounts_positive")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_transfers_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["accounts.id"],
            name=op.f("fk_transfers_from_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_transfers_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"], ["accounts.id"], name=op.f("fk_transfers_to_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_transfers_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index("ix_transfers_org_id_date", "transfers", ["org_id", "date"])
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transfer_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("type", existing_type=sa.String(length=7), type_=sa.String(length=8))
        batch_op.alter_column("category_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.drop_constraint(batch_op.f("ck_records_type"), type_="check")
        batch_op.create_check_constraint("type", "type IN ('income', 'expense', 'transfer')")
        batch_op.create_check_constraint("transfer_legs", LEGS)
        batch_op.create_foreign_key(
            batch_op.f("fk_records_transfer_id_transfers"), "transfers", ["transfer_id"], ["id"]
        )
        batch_op.create_index(
            "ix_records_transfer_id",
            ["transfer_id"],
            postgresql_where=sa.text("transfer_id IS NOT NULL"),
            sqlite_where=sa.text("transfer_id IS NOT NULL"),
        )


def _refill_balances() -> None:
    """Constant SQL, as 0007 fills them: every account's sums from its live records."""
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "date(day, 'start of month')"
    sign = "CASE type WHEN 'income' THEN 1 ELSE -1 END"
    op.execute("DELETE FROM account_monthly_balances")
    op.execute("DELETE FROM account_daily_balances")
    op.execute(
        "INSERT INTO account_daily_balances (org_id, account_id, day, "  # noqa: S608
        "total_high, total_low, record_count) SELECT org_id, account_id, date, "
        f"sum({sign} * (amount_minor / {HALF})), sum({sign} * (amount_minor % {HALF})), "
        "count(*) FROM records WHERE deleted_at IS NULL GROUP BY org_id, account_id, date"
    )
    op.execute(
        "INSERT INTO account_monthly_balances (org_id, account_id, month, "  # noqa: S608
        f"total_high, total_low, record_count) SELECT org_id, account_id, {month}, "
        "sum(total_high), sum(total_low), sum(record_count) FROM account_daily_balances "
        f"GROUP BY org_id, account_id, {month}"
    )


def downgrade() -> None:
    op.execute("DELETE FROM records WHERE transfer_id IS NOT NULL")
    _refill_balances()
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_transfer_id")
        batch_op.drop_constraint("fk_records_transfer_id_transfers", type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("ck_records_transfer_legs"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_records_type"), type_="check")
        batch_op.create_check_constraint("type", "type IN ('income', 'expense')")
        batch_op.alter_column("category_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("type", existing_type=sa.String(length=8), type_=sa.String(length=7))
        batch_op.drop_column("transfer_id")
    op.drop_index("ix_transfers_org_id_date", table_name="transfers")
    op.drop_table("transfers")
