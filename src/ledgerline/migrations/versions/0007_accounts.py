"""accounts: every record moves into its org's default account of its currency

Creates the accounts, a default account (``Main USD``) per org and currency its records or
settings use, moves every record into it, makes ``records.account_id`` required, and fills the
accounts' daily and monthly balance aggregates from the live records.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HALF = 2**32
KINDS = "'checking', 'savings', 'credit_card', 'cash', 'loan', 'investment', 'other'"


def _balance_table(name: str, period: str) -> None:
    op.create_table(
        name,
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column("total_high", sa.BigInteger(), nullable=False),
        sa.Column("total_low", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f(f"fk_{name}_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f(f"fk_{name}_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "account_id", period, name=op.f(f"pk_{name}")),
    )


def _create_default_accounts() -> None:
    """One ``Main <currency>`` account per org and currency: the org's own currency and every
    currency its records use. Few rows (orgs times currencies), so built here."""
    bind = op.get_bind()
    orgs = sa.table("orgs", sa.column("id", sa.Uuid()), sa.column("currency", sa.String()))
    records = sa.table(
        "records", sa.column("org_id", sa.Uuid()), sa.column("currency", sa.String())
    )
    pairs = bind.execute(
        sa.union(
            sa.select(orgs.c.id, orgs.c.currency),
            sa.select(records.c.org_id, records.c.currency),
        )
    ).all()
    if not pairs:
        return
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.Uuid()),
        sa.column("org_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("currency", sa.String()),
        sa.column("opening_balance_minor", sa.BigInteger()),
        sa.column("archived", sa.Boolean()),
        sa.column("is_default", sa.Boolean()),
        sa.column("version", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = dt.datetime.now(dt.UTC)
    bind.execute(
        accounts.insert(),
        [
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "name": f"Main {currency}",
                "name_key": f"main {currency.lower()}",
                "kind": "other",
                "currency": currency,
                "opening_balance_minor": 0,
                "archived": False,
                "is_default": True,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for org_id, currency in sorted(set(pairs), key=repr)
        ],
    )


def _fill_balances() -> None:
    """Constant SQL: the signed sums of the live records per account and day, then month."""
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', day)::date"
    else:
        month = "date(day, 'start of month')"
    sign = "CASE type WHEN 'income' THEN 1 ELSE -1 END"
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


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("institution", sa.String(length=128), nullable=True),
        sa.Column("opening_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("opening_date", sa.Date(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("reconciled_through", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_accounts_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_accounts_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_index("uq_accounts_org_id_name_key", "accounts", ["org_id", "name_key"], unique=True)
    op.create_index(
        "uq_accounts_default_per_currency",
        "accounts",
        ["org_id", "currency"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    _balance_table("account_daily_balances", "day")
    _balance_table("account_monthly_balances", "month")

    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
    _create_default_accounts()
    op.execute(
        "UPDATE records SET account_id = (SELECT accounts.id FROM accounts "
        "WHERE accounts.org_id = records.org_id AND accounts.currency = records.currency "
        "AND accounts.is_default)"
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_records_account_id_accounts"), "accounts", ["account_id"], ["id"]
        )
        batch_op.create_index("ix_records_account_id_date", ["account_id", "date"])
    _fill_balances()


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_account_id_date")
        batch_op.drop_constraint("fk_records_account_id_accounts", type_="foreignkey")
        batch_op.drop_column("account_id")
    op.drop_table("account_monthly_balances")
    op.drop_table("account_daily_balances")
    op.drop_index("uq_accounts_default_per_currency", table_name="accounts")
    op.drop_index("uq_accounts_org_id_name_key", table_name="accounts")
    op.drop_table("accounts")
