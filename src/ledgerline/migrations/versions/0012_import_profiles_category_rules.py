"""import_profiles_category_rules: saved CSV mappings, ordered category rules, notes index

The index (org_id, substr(notes, 1, 200)) on records finds an org's last record with a given
description (the category rules' "same as last time").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_import_profiles_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_profiles")),
    )
    with op.batch_alter_table("import_profiles", schema=None) as batch_op:
        batch_op.create_index(
            "uq_import_profiles_org_id_name_key", ["org_id", "name_key"], unique=True
        )
    op.create_table(
        "category_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("match", sa.String(length=16), nullable=False),
        sa.Column("pattern", sa.String(length=200), nullable=False),
        sa.Column("case_sensitive", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "match IN ('contains', 'starts_with', 'equals')", name=op.f("ck_category_rules_match")
        ),
        sa.CheckConstraint("field IN ('description')", name=op.f("ck_category_rules_field")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_category_rules_position_positive")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_category_rules_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_rules")),
    )
    with op.batch_alter_table("category_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_category_rules_org_id_position"), ["org_id", "position"], unique=False
        )
    op.create_index(
        "ix_records_notes", "records", ["org_id", sa.text("substr(notes, 1, 200)")], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_records_notes", table_name="records")
    with op.batch_alter_table("category_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_category_rules_org_id_position"))
    op.drop_table("category_rules")
    with op.batch_alter_table("import_profiles", schema=None) as batch_op:
        batch_op.drop_index("uq_import_profiles_org_id_name_key")
    op.drop_table("import_profiles")
