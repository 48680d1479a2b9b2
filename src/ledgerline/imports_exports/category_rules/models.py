from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from ledgerline.core.db import Base, TimestampMixin
from ledgerline.core.ids import new_id
from ledgerline.records.models import Record


class RuleField(StrEnum):
    DESCRIPTION = "description"


class RuleMatch(StrEnum):
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    EQUALS = "equals"


MATCH_VALUES = ", ".join(f"'{match.value}'" for match in RuleMatch)
FIELD_VALUES = ", ".join(f"'{rule_field.value}'" for rule_field in RuleField)


class CategoryRule(TimestampMixin, Base):
    """One rule of an org's ordered list: positions run 1..n without gaps (the service keeps
    them so), the first rule that matches a row's description gives its category."""

    __tablename__ = "category_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(16), default=RuleField.DESCRIPTION.value)
    match: Mapped[str] = mapped_column(String(16))
    pattern: Mapped[str] = mapped_column(String(200))
    case_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(f"match IN ({MATCH_VALUES})", name="match"),
        CheckConstraint(f"field IN ({FIELD_VALUES})", name="field"),
        CheckConstraint("position >= 1", name="position_positive"),
        Index(None, "org_id", "position"),
    )


NOTES_KEY_LENGTH = 200
"""Records are found by description through ``substr(notes, 1, 200)``: notes hold up to 1,000
characters (4,000 bytes in UTF-8), more than a PostgreSQL B-tree entry may, while 200 always
fit; the full notes are compared after the index narrowed the rows down."""


def notes_key(
    notes: ColumnElement[str | None] | InstrumentedAttribute[str | None],
) -> ColumnElement[str]:
    """The indexed expression over ``records.notes``."""
    return func.substr(notes, 1, NOTES_KEY_LENGTH)


# Declared here, next to the one query that needs it (``service.Categoriser``), on the records
# table: an org's records by the start of their notes. Not a partial index (live records only)
# on purpose: PostgreSQL uses the statistics of an expression index only when it has no WHERE,
# and without them it guesses ~0.5% of the table per description and scans the whole table.
ix_records_notes = Index("ix_records_notes", Record.org_id, notes_key(Record.notes))
