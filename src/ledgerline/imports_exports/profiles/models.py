from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, TimestampMixin
from ledgerline.core.ids import new_id


class ImportProfile(TimestampMixin, Base):
    """A saved CSV mapping (``statements.CsvMapping`` as JSON); ``name_key`` is the case-folded
    name, unique per org."""

    __tablename__ = "import_profiles"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(255))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("uq_import_profiles_org_id_name_key", "org_id", "name_key", unique=True),
    )
