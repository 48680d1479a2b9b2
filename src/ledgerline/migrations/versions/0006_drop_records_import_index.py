"""drop ix_records_import: imports add to the aggregates from the rows they parse

The index let an import read its own rows back to sum them; nothing reads records by import
any more, and every imported row paid for the index entry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_import")


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_import",
            ["org_id", "import_id"],
            unique=False,
            postgresql_where=sa.text("import_id IS NOT NULL"),
            sqlite_where=sa.text("import_id IS NOT NULL"),
        )
