from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, utcnow
from ledgerline.core.ids import new_id


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
STATUS_VALUES = ", ".join(f"'{status.value}'" for status in JobStatus)


class ImportJob(Base):
    """An import answered 202 and run in the background, by the process that accepted it.

    Its records are written in one transaction of their own, which also marks the job
    ``succeeded``: a job that ends any other way has written nothing.
    """

    __tablename__ = "import_jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    file_name: Mapped[str | None] = mapped_column(String(255))
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int | None]
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(String(1000))
    """Why a job failed or was cancelled, in words."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"status IN ({STATUS_VALUES})", name="status"),
        Index(None, "status"),
    )
