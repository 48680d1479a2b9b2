from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

from ledgerline.core.deps import SessionDep, SettingsDep, StreamingSessionDep
from ledgerline.core.errors import PROBLEM_MEDIA_TYPE
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute, body_limit
from ledgerline.imports_exports import jobs as import_jobs
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports import statement_import
from ledgerline.imports_exports.dependencies import JobRunnerDep
from ledgerline.imports_exports.schemas import (
    ImportJobRead,
    ImportRejection,
    ImportReport,
    StatementRejection,
    StatementReport,
)
from ledgerline.imports_exports.statements import DateFormat
from ledgerline.orgs.dependencies import RecordsExporter, RecordsImporter, StatementsImporter
from ledgerline.records.schemas import RecordFilters

router = APIRouter(prefix="/orgs/{org_id}/records", tags=["records"], route_class=LedgerlineRoute)
statements_router = APIRouter(
    prefix="/orgs/{org_id}/accounts/{account_id}/statements",
    tags=["accounts"],
    route_class=LedgerlineRoute,
)
jobs_router = APIRouter(
    prefix="/orgs/{org_id}/import-jobs", tags=["records"], route_class=LedgerlineRoute
)

MULTIPART_OVERHEAD = 64 * 1024


def _prefers_async(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240) holds ``respond-async``."""
    return prefer is not None and any(
        preference.split(";", 1)[0].strip().lower() == "respond-async"
        for preference in prefer.split(",")
    )


@router.post(
    "/import",
    response_model=ImportReport,
    responses={
        202: {
            "model": ImportJobRead,
            "description": "accepted as an import job (`Prefer: respond-async`)",
            "headers": {"Location": {"description": "the job", "schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        422: {
            "model": ImportRejection,
            "description": "rows with errors; nothing was written",
            "content": {PROBLEM_MEDIA_TYPE: {}},
        },
    },
)
@body_limit(lambda settings: settings.import_max_bytes + MULTIPART_OVERHEAD)
async def import_records(
    file: Annotated[UploadFile, File(description="UTF-8 CSV with a header row")],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ctx: RecordsImporter,
    runner: JobRunnerDep,
    background: BackgroundTasks,
    dry_run: Annotated[bool, Query(description="validate and count without writing")] = False,
    account_id: Annotated[
        uuid.UUID | None,
        Query(description="the account of every row without an `account` cell"),
    ] = None,
    prefer: Annotated[
        str | None, Header(description="`respond-async`: answer 202 with an import job")
    ] = None,
) -> ImportReport | JSONResponse:
    """Import records from CSV: all rows or none; rows already imported count as duplicates."""
    if _prefers_async(prefer):
        job, accepted = await import_jobs.accept(
            session,
            ctx,
            file.file,
            dry_run=dry_run,
            max_rows=settings.import_max_rows,
            max_bytes=settings.import_max_bytes,
            size=file.size,
            file_name=file.filename,
            account_id=account_id,
        )
        return _accepted(request, background, runner, job, accepted)
    return await imports_exports_service.import_csv(
        session,
        ctx,
        file.file,
        dry_run=dry_run,
        max_rows=settings.import_max_rows,
        max_bytes=settings.import_max_bytes,
        size=file.size,
        file_name=file.filename,
        account_id=account_id,
    )


def _accepted(
    request: Request,
    background: BackgroundTasks,
    runner: import_jobs.JobRunner,
    job: import_jobs.AcceptedJob,
    accepted: ImportJobRead,
) -> JSONResponse:
    """202 with the queued job, started once the response is sent."""
    background.add_task(runner.start, job)
    location = request.url_for("get_import_job", org_id=job.org_id, job_id=job.id)
    return JSONResponse(
        accepted.model_dump(mode="json"),
        status_code=202,
        headers={"Location": str(location), "Preference-Applied": "respond-async"},
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404, 422, 429)},
)
async def export_records(
    filters: Annotated[RecordFilters, Query()],
    session: StreamingSessionDep,
    ctx: RecordsExporter,
) -> StreamingResponse:
    """Stream the filtered records as CSV (same filters as the list), in constant memory."""
    return StreamingResponse(
        imports_exports_service.export_csv(session, ctx, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="records.csv"'},
    )


@jobs_router.get("/{job_id}", responses=error_responses(401, 403, 404, 422, 429))
async def get_import_job(
    job_id: uuid.UUID, session: SessionDep, ctx: RecordsImporter, runner: JobRunnerDep
) -> ImportJobRead:
    """An import job's state, and its report once ended (your jobs; admins: every job)."""
    return await import_jobs.get_job(session, ctx, runner, job_id=job_id)


@jobs_router.delete("/{job_id}", responses=error_responses(401, 403, 404, 409, 422, 429))
async def cancel_import_job(
    job_id: uuid.UUID, session: SessionDep, ctx: RecordsImporter, runner: JobRunnerDep
) -> ImportJobRead:
    """Cancel a queued or running import job: nothing of it is written (409 once it ended)."""
    return await import_jobs.cancel_job(session, ctx, runner, job_id=job_id)


@statements_router.post(
    "",
    response_model=StatementReport,
    responses={
        202: {
            "model": ImportJobRead,
            "description": "accepted as an import job (`Prefer: respond-async`)",
            "headers": {"Location": {"description": "the job", "schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        422: {
            "model": StatementRejection,
            "description": "the file, its mapping or its rows cannot be imported; nothing was "
            "written",
            "content": {PROBLEM_MEDIA_TYPE: {}},
        },
    },
)
@body_limit(lambda settings: settings.import_max_bytes + MULTIPART_OVERHEAD)
async def import_statement(
    account_id: uuid.UUID,
    file: Annotated[
        UploadFile, File(description="the bank's file: OFX/QFX, QIF, CAMT.05x, MT940 or CSV")
    ],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ctx: StatementsImporter,
    runner: JobRunnerDep,
    background: BackgroundTasks,
    mapping: Annotated[
        str | None,
        Form(description="a CSV mapping as JSON (see docs/statements.md); CSV files only"),
    ] = None,
    profile_id: Annotated[
        uuid.UUID | None, Form(description="a saved mapping (import profile) of the org")
    ] = None,
    source_account: Annotated[
        str | None,
        Form(
            max_length=64,
            description="the bank account (IBAN or number) to import from a file of several",
        ),
    ] = None,
    date_format: Annotated[
        DateFormat | None, Form(description="QIF dates: overrides the month-first convention")
    ] = None,
    dry_run: Annotated[bool, Query(description="validate and count without writing")] = False,
    prefer: Annotated[
        str | None, Header(description="`respond-async`: answer 202 with an import job")
    ] = None,
) -> StatementReport | JSONResponse:
    """Import a bank statement into the account: every row or none; rows already imported
    (by the bank's id, or by content and occurrence) count as duplicates."""
    options = statement_import.StatementOptions(
        mapping=statement_import.parse_mapping(mapping) if mapping else None,
        source_account=source_account,
        date_format=date_format,
        profile_id=profile_id,
        file_name=file.filename,
    )
    if _prefers_async(prefer):
        job, accepted = await import_jobs.accept(
            session,
            ctx,
            file.file,
            dry_run=dry_run,
            max_rows=settings.import_max_rows,
            max_bytes=settings.import_max_bytes,
            size=file.size,
            file_name=file.filename,
            account_id=account_id,
            statement=options,
        )
        return _accepted(request, background, runner, job, accepted)
    return await statement_import.import_statement(
        session,
        ctx,
        account_id,
        file.file,
        options=options,
        dry_run=dry_run,
        max_rows=settings.import_max_rows,
        max_bytes=settings.import_max_bytes,
    )
