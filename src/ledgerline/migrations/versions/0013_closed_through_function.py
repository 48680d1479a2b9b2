"""closed_through_function: a closed period read after its lock, within one statement

A statement's own reads see the snapshot it began with; a VOLATILE function's statements each
take a snapshot of their own. So a write made of one statement (a record's create) takes the
account's closing lock through this function and reads ``reconciled_through`` after it, as
``accounts/closing.py`` requires. PostgreSQL only: SQLite's writers run one at a time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION ledgerline_closed_through(account uuid, lock_key bigint)
        RETURNS date
        LANGUAGE plpgsql VOLATILE
        AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(lock_key);
            RETURN (SELECT reconciled_through FROM accounts WHERE id = account);
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION ledgerline_closed_through(uuid, bigint)")
