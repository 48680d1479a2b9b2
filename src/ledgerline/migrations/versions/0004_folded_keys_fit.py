"""folded keys fit their folded text

Case folding can lengthen text (``ß`` becomes ``ss``), so a 64-character category or a
320-character email could fold to more than its column held; PostgreSQL refused such rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.alter_column(
            "name_key", existing_type=sa.String(length=64), type_=sa.String(length=255)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "email_key", existing_type=sa.String(length=320), type_=sa.String(length=1024)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "email_key", existing_type=sa.String(length=1024), type_=sa.String(length=320)
        )
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.alter_column(
            "name_key", existing_type=sa.String(length=255), type_=sa.String(length=64)
        )
