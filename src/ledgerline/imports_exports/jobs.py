"""Import jobs (``Prefer: respond-async``): accepted by a request, run by the process that
accepted it, in a transaction of their own.

- ``accept`` runs in the request's transaction: the size and row limits (413 at once), the
  upload copied to a temporary file the job owns, the job's row (``queued``).
- ``JobRunner.start`` runs once the response is sent, so after the request committed the row:
  an asyncio task claims the job (``running``) and imports as the user who sent the file, with
  the org guard checked again.
- The records and the ``succeeded`` status commit together, through an UPDATE that matches only
  a job still ``running``: a job cancelled meanwhile commits nothing. Every other end (rows
  rejected, a limit, a cancel, a stop of the process) writes no record.
- Jobs survive no restart: at start, the unfinished jobs of earlier processes are marked
  ``failed``, saying so.

Progress (``rows_done``) is kept in memory by the running process and, on PostgreSQL, written
to the job's row after each batch in a short transaction of its own. SQLite has one writer, the
import itself, so there the row learns it when the job ends; the process running the job
answers from memory meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts.service import account_in_org
from ledgerline.core.config import Settings
from ledgerline.core.db import Database, utcnow
from ledgerline.core.errors import (
    AppError,
    Conflict,
    ContentTooLarge,
    NotFound,
)
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports import statement_import
from ledgerline.imports_exports.models import UNFINISHED, ImportJob, JobStatus
from ledgerline.imports_exports.schemas import (
    ImportJobRead,
    ImportReport,
    JobStatusName,
    StatementReport,
)
from ledgerline.imports_exports.statements import StatementError, detect
from ledgerline.imports_exports.statements.registry import SNIFF_BYTES
from ledgerline.orgs.dependencies import OrgContext, org_context
from ledgerline.orgs.permissions import Permission, role_allows
from ledgerline.users.models import User

logger = logging.getLogger(__name__)

JOB_NOT_FOUND = "import job not found"
INTERRUPTED = "interrupted: the server stopped while the job ran; nothing was written"
UNEXPECTED = "the import failed unexpectedly; nothing was written"
CANCELLED = "cancelled; nothing was written"
FINISHED = "the job has already finished"


@dataclass(frozen=True, slots=True)
class AcceptedJob:
    id: uuid.UUID
    org_id: uuid.UUID
    user_id: uuid.UUID
    file: BinaryIO
    file_name: str | None
    dry_run: bool
    account_id: uuid.UUID | None = None
    statement: statement_import.StatementOptions | None = None
    """Set for a bank statement (into ``account_id``); None for our own CSV layout."""


class _CancelledElsewhere(Exception):
    """The job's row says ``cancelled``: stop, and let the transaction roll back."""


async def accept(
    session: AsyncSession,
    ctx: OrgContext,
    upload: BinaryIO,
    *,
    dry_run: bool,
    max_rows: int,
    max_bytes: int,
    size: int | None,
    file_name: str | None,
    account_id: uuid.UUID | None = None,
    statement: statement_import.StatementOptions | None = None,
) -> tuple[AcceptedJob, ImportJobRead]:
    """Check the limits, keep a copy of the upload and queue the job (flushed, not committed).

    A bank statement (``statement`` given, into ``account_id``) is checked for its account,
    its size and a readable format here; its rows are counted by the job, which reads it."""
    if statement is None:
        rows_total = await imports_exports_service.checked_row_count(
            upload, max_rows=max_rows, max_bytes=max_bytes, size=size
        )
    else:
        if account_id is None:
            raise ValueError("a statement job needs the account it imports into")
        await account_in_org(session, ctx.org_id, account_id)
        await _check_statement(upload, max_bytes=max_bytes, size=size)
        rows_total = None
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - the job closes it when it ends
    try:
        await asyncio.to_thread(shutil.copyfileobj, upload, copy)
        copy.seek(0)
        job = ImportJob(
            org_id=ctx.org_id,
            created_by=ctx.user_id,
            status=JobStatus.QUEUED.value,
            file_name=file_name[:255] if file_name else None,
            rows_total=rows_total,
        )
        session.add(job)
        await session.flush()
    except BaseException:
        copy.close()
        raise
    accepted = AcceptedJob(
        job.id, ctx.org_id, ctx.user_id, copy, job.file_name, dry_run, account_id, statement
    )
    return accepted, _read(job, None)


async def _check_statement(upload: BinaryIO, *, max_bytes: int, size: int | None) -> None:
    """413 for a statement over the byte limit, 415 for one in no format read, at once."""
    if size is not None and size > max_bytes:
        raise ContentTooLarge(f"the file is larger than {max_bytes} bytes")
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    if not head.strip():
        return  # empty: the job says so, with its report
    try:
        detect(head)
    except StatementError as exc:
        raise statement_import.unreadable(exc) from exc


def _report(stored: dict[str, Any] | None) -> StatementReport | ImportReport | None:
    if stored is None:
        return None
    if "format" in stored:
        return StatementReport.model_validate(stored)
    return ImportReport.model_validate(stored)


def job_path(org_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return f"/orgs/{org_id}/import-jobs/{job_id}"


async def _visible_job(session: AsyncSession, ctx: OrgContext, job_id: uuid.UUID) -> ImportJob:
    """The job if the caller sent it or may manage every job of the org; else 404, as for a job
    that does not exist."""
    job = await session.scalar(
        select(ImportJob).where(ImportJob.id == job_id, ImportJob.org_id == ctx.org_id)
    )
    if job is None or (
        job.created_by != ctx.user_id and not role_allows(ctx.role, Permission.IMPORT_JOBS_MANAGE)
    ):
        raise NotFound(JOB_NOT_FOUND)
    return job


def _read(job: ImportJob, rows_done: int | None, rows_total: int | None = None) -> ImportJobRead:
    return ImportJobRead(
        id=job.id,
        status=cast(JobStatusName, job.status),
        rows_done=max(job.rows_done, rows_done or 0),
        rows_total=job.rows_total if job.rows_total is not None else rows_total,
        report=_report(job.report),
        detail=job.detail,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


async def get_job(
    session: AsyncSession, ctx: OrgContext, runner: JobRunner, *, job_id: uuid.UUID
) -> ImportJobRead:
    job = await _visible_job(session, ctx, job_id)
    if job.status not in UNFINISHED:
        return _read(job, None)
    return _read(job, runner.rows_done(job.id), runner.rows_total(job.id))


async def cancel_job(
    session: AsyncSession, ctx: OrgContext, runner: JobRunner, *, job_id: uuid.UUID
) -> ImportJobRead:
    """Mark a queued or running job ``cancelled`` (409 once it has finished). The runner, in
    this process or another, finds it so and commits nothing."""
    job = await _visible_job(session, ctx, job_id)
    cancelled = await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status.in_(UNFINISHED))
        .values(status=JobStatus.CANCELLED.value, detail=CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(FINISHED)
    runner.cancel(job.id)
    await session.refresh(job)
    return _read(job, None)


class JobRunner:
    """The import jobs this process runs."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._rows_done: dict[uuid.UUID, int] = {}
        self._rows_total: dict[uuid.UUID, int] = {}
        """Rows of statement jobs, known once the job has read its file."""
        self._cancelled: set[uuid.UUID] = set()
        self._progress_writes: dict[uuid.UUID, asyncio.Task[None]] = {}
        # SQLite takes one writer at a time: jobs queue here rather than on its busy timeout.
        self._one_at_a_time = asyncio.Lock() if database.is_sqlite else None
        self.started_at = utcnow()

    async def fail_interrupted(self) -> None:
        """Mark the unfinished jobs of earlier processes ``failed``: none of them survived."""
        async with self._database.sessions() as session:
            await session.execute(
                update(ImportJob)
                .where(ImportJob.status.in_(UNFINISHED), ImportJob.created_at < self.started_at)
                .values(status=JobStatus.FAILED.value, detail=INTERRUPTED, finished_at=utcnow())
            )
            await session.commit()

    async def start(self, job: AcceptedJob) -> None:
        """Run the job in a task of its own (async, so that a response's background tasks call
        it on the event loop)."""
        task = asyncio.create_task(self._run(job), name=f"import-job-{job.id}")
        self._tasks[job.id] = task

    def rows_done(self, job_id: uuid.UUID) -> int | None:
        return self._rows_done.get(job_id)

    def rows_total(self, job_id: uuid.UUID) -> int | None:
        return self._rows_total.get(job_id)

    def _counts(self, job_id: uuid.UUID) -> dict[str, int]:
        """The job row's progress columns as this process knows them."""
        counts = {"rows_done": self._rows_done.get(job_id, 0)}
        if job_id in self._rows_total:
            counts["rows_total"] = self._rows_total[job_id]
        return counts

    def cancel(self, job_id: uuid.UUID) -> None:
        """Ask a job of this process to stop at its next batch (its row says so already)."""
        if job_id in self._tasks:
            self._cancelled.add(job_id)

    async def wait(self, job_id: uuid.UUID) -> None:
        """Until the job, if this process runs it, has ended."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])

    async def close(self) -> None:
        """Stop every job at shutdown: each rolls back and is marked ``failed``."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _turn(self) -> Any:
        return self._one_at_a_time if self._one_at_a_time is not None else nullcontext()

    async def _run(self, job: AcceptedJob) -> None:
        try:
            async with self._turn():
                if await self._claim(job.id):
                    await self._import(job)
        except _CancelledElsewhere:
            # Its row says cancelled already, unless the cancelling request failed to commit.
            await self._finish(job.id, detail=CANCELLED)
        except imports_exports_service.ImportRejected as exc:
            await self._finish(job.id, detail=exc.detail, report=exc.report)
        except AppError as exc:
            await self._finish(job.id, detail=exc.detail)
        except asyncio.CancelledError:
            await self._finish(job.id, detail=INTERRUPTED)
            raise
        except Exception:
            logger.exception("import job %s failed", job.id)
            await self._finish(job.id, detail=UNEXPECTED)
        finally:
            job.file.close()
            writer = self._progress_writes.pop(job.id, None)
            if writer is not None:
                await asyncio.wait([writer])
            self._tasks.pop(job.id, None)
            self._rows_done.pop(job.id, None)
            self._rows_total.pop(job.id, None)
            self._cancelled.discard(job.id)

    async def _claim(self, job_id: uuid.UUID) -> bool:
        async with self._database.sessions() as session:
            claimed = await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value)
            )
            await session.commit()
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def _import(self, job: AcceptedJob) -> None:
        async with self._database.sessions() as session:
            user = await session.get(User, job.user_id)
            if user is None:
                raise NotFound("the user who sent the file no longer exists")
            report = await self._report(session, user, job)
            succeeded = await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.SUCCEEDED.value,
                    report=report.model_dump(mode="json"),
                    finished_at=utcnow(),
                    **self._counts(job.id),
                )
            )
            if succeeded.rowcount == 1:  # type: ignore[attr-defined]
                await session.commit()

    async def _report(
        self, session: AsyncSession, user: User, job: AcceptedJob
    ) -> ImportReport | StatementReport:
        """The import's answer, the org guard checked again (the role may have changed)."""

        def progress(rows: int) -> None:
            self._progress(job.id, rows)

        def total(rows: int) -> None:
            self._rows_total[job.id] = rows
            self._progress(job.id, 0)

        if job.statement is not None and job.account_id is not None:
            ctx = await org_context(session, user, job.org_id, Permission.STATEMENTS_IMPORT)
            return await statement_import.import_statement(
                session,
                ctx,
                job.account_id,
                job.file,
                options=job.statement,
                dry_run=job.dry_run,
                max_rows=self._settings.import_max_rows,
                max_bytes=self._settings.import_max_bytes,
                progress=progress,
                on_total=total,
            )
        ctx = await org_context(session, user, job.org_id, Permission.RECORDS_IMPORT)
        return await imports_exports_service.import_csv(
            session,
            ctx,
            job.file,
            dry_run=job.dry_run,
            max_rows=self._settings.import_max_rows,
            max_bytes=self._settings.import_max_bytes,
            file_name=job.file_name,
            progress=progress,
            account_id=job.account_id,
        )

    def _progress(self, job_id: uuid.UUID, rows: int) -> None:
        """After each batch: remember the count, store it (PostgreSQL), stop if cancelled."""
        if job_id in self._cancelled:
            raise _CancelledElsewhere
        self._rows_done[job_id] = rows
        if self._database.is_sqlite or job_id in self._progress_writes:
            return
        writer = asyncio.create_task(self._store_progress(job_id, rows))
        self._progress_writes[job_id] = writer
        writer.add_done_callback(lambda _: self._progress_writes.pop(job_id, None))

    async def _store_progress(self, job_id: uuid.UUID, rows: int) -> None:
        try:
            async with self._database.sessions() as session:
                stored = await session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id, ImportJob.status == JobStatus.RUNNING.value)
                    .values(**{**self._counts(job_id), "rows_done": rows})
                )
                await session.commit()
        except Exception:
            logger.warning("progress of import job %s not stored", job_id, exc_info=True)
            return
        if stored.rowcount == 0:  # type: ignore[attr-defined]
            self.cancel(job_id)

    async def _finish(
        self,
        job_id: uuid.UUID,
        *,
        detail: str,
        report: ImportReport | StatementReport | None = None,
    ) -> None:
        """Mark a job ``failed`` unless it has ended already (cancelled, say)."""
        try:
            async with self._database.sessions() as session:
                await session.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id, ImportJob.status.in_(UNFINISHED))
                    .values(
                        status=JobStatus.FAILED.value,
                        detail=detail[:1000],
                        report=report.model_dump(mode="json") if report is not None else None,
                        finished_at=utcnow(),
                        **self._counts(job_id),
                    )
                )
                await session.commit()
        except Exception:
            logger.exception("import job %s could not be marked failed", job_id)
