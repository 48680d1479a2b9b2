"""Import: upload a CSV, see the dry run (rows as they would be created, errors by row,
duplicates), then confirm. Both steps are the API's import service.

A file larger than ``web_import_job_bytes`` (1 MB by default) runs as an import job instead,
the API's ``Prefer: respond-async`` machinery (``imports_exports/jobs.py``): the page shows
a progress bar that htmx refreshes from the job's state until it ends, then the result, and a
Cancel button meanwhile. A large file gets no preview (the dry run would read it twice); an
import is all or nothing, so a file with a bad row writes nothing and shows its errors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.schemas import AccountListQuery
from ledgerline.core.deps import SessionDep, SettingsDep
from ledgerline.core.errors import Conflict, ContentTooLarge, NotFound, ValidationFailed
from ledgerline.core.routing import body_limit
from ledgerline.imports_exports import jobs as import_jobs
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports.dependencies import JobRunnerDep
from ledgerline.imports_exports.models import UNFINISHED
from ledgerline.imports_exports.preview import preview_rows
from ledgerline.imports_exports.profiles import service as profiles_service
from ledgerline.imports_exports.router import MULTIPART_OVERHEAD
from ledgerline.imports_exports.schemas import ImportJobRead, ImportReport, StatementReport
from ledgerline.imports_exports.service import ImportRejected
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.permissions import Permission, role_allows
from ledgerline.web import staging
from ledgerline.web.dependencies import CsrfChecked, RecordsImporter, WebCaller, frame
from ledgerline.web.errors import WebRoute
from ledgerline.web.templating import is_htmx, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PREVIEW_ROWS = 20
EXPIRED = "the uploaded file is no longer kept (an hour at most); upload it again"


def _page(
    request: Request, page: Mapping[str, object], values: Mapping[str, object], *, status: int = 200
) -> Response:
    job_bytes = request.app.state.settings.web_import_job_bytes
    return render(request, "import.html", {**page, "job_bytes": job_bytes, **values}, status=status)


async def import_frame(
    request: Request, session: SessionDep, caller: WebCaller, ctx: OrgContext
) -> dict[str, object]:
    """The layout's values and what the bank statement form offers: the org's accounts and
    saved CSV mappings (read before any import, which may roll back)."""
    page = await frame(request, session, caller, ctx)
    if not role_allows(ctx.role, Permission.STATEMENTS_IMPORT):
        return page
    query = AccountListQuery()
    return {
        **page,
        "statement_accounts": await accounts_service.list_accounts(session, ctx, query),
        "profiles": await profiles_service.list_profiles(session, ctx.org_id),
    }


@router.get("/orgs/{org_id}/import")
async def import_page(
    request: Request, session: SessionDep, ctx: RecordsImporter, caller: WebCaller
) -> Response:
    return _page(request, await import_frame(request, session, caller, ctx), {})


async def _run(
    session: SessionDep, settings: SettingsDep, ctx: OrgContext, path: Path, *, dry_run: bool
) -> tuple[ImportReport | None, str | None]:
    """The report, or the rejection's report with nothing kept: a rejected import rolls back,
    as the API's answer does (so the page's frame is read before, not from expired rows)."""
    with path.open("rb") as stream:
        try:
            report = await imports_exports_service.import_csv(
                session,
                ctx,
                stream,
                dry_run=dry_run,
                max_rows=settings.import_max_rows,
                max_bytes=settings.import_max_bytes,
                file_name="upload.csv",
            )
        except ImportRejected as exc:
            await session.rollback()
            return exc.report, exc.detail
        except (ContentTooLarge, ValidationFailed) as exc:
            await session.rollback()
            return None, exc.detail
    return report, None


@router.post("/orgs/{org_id}/import", dependencies=[CsrfChecked])
@body_limit(lambda settings: settings.import_max_bytes + MULTIPART_OVERHEAD)
async def preview_import(
    request: Request,
    file: Annotated[UploadFile, File()],
    session: SessionDep,
    settings: SettingsDep,
    ctx: RecordsImporter,
    caller: WebCaller,
    runner: JobRunnerDep,
    background: BackgroundTasks,
) -> Response:
    page = await import_frame(request, session, caller, ctx)
    if file.size is not None and file.size > settings.import_max_bytes:
        too_large = f"the file is larger than {settings.import_max_bytes} bytes"
        return _page(request, page, {"problem": too_large}, status=413)
    if file.size is not None and file.size > settings.web_import_job_bytes:
        try:
            job, _queued = await import_jobs.accept(
                session,
                ctx,
                file.file,
                dry_run=False,
                max_rows=settings.import_max_rows,
                max_bytes=settings.import_max_bytes,
                size=file.size,
                file_name=file.filename,
            )
        except ContentTooLarge as exc:
            return _page(request, page, {"problem": exc.detail}, status=413)
        background.add_task(runner.start, job)
        return RedirectResponse(f"/orgs/{ctx.org_id}/import/jobs/{job.id}", status_code=303)
    token = staging.stage(file.file, org_id=ctx.org_id, user_id=caller.user.id)
    path = staging.staged(token, org_id=ctx.org_id, user_id=caller.user.id)
    assert path is not None
    with path.open("rb") as stream:
        rows = preview_rows(stream, ctx, limit=PREVIEW_ROWS)
    report, problem = await _run(session, settings, ctx, path, dry_run=True)
    if problem is not None:
        path.unlink(missing_ok=True)
    values = {
        "report": report,
        "problem": problem,
        "rows": rows,
        "token": token if problem is None else None,
        "file_name": file.filename or "upload.csv",
    }
    return _page(request, page, values, status=422 if problem else 200)


@router.post("/orgs/{org_id}/import/confirm", dependencies=[CsrfChecked])
async def confirm_import(
    request: Request,
    token: Annotated[str, Form(max_length=64)],
    session: SessionDep,
    settings: SettingsDep,
    ctx: RecordsImporter,
    caller: WebCaller,
) -> Response:
    page = await import_frame(request, session, caller, ctx)
    path = staging.staged(token, org_id=ctx.org_id, user_id=caller.user.id)
    if path is None:
        return _page(request, page, {"problem": EXPIRED}, status=410)
    report, problem = await _run(session, settings, ctx, path, dry_run=False)
    path.unlink(missing_ok=True)
    values = {"report": report, "problem": problem, "done": problem is None}
    return _page(request, page, values, status=422 if problem else 200)


async def _statement_currency(
    session: SessionDep, ctx: OrgContext, job: ImportJobRead
) -> str | None:
    """The currency of a statement job's account, to show its closing balance in; None for a
    CSV import's job, or an account deleted since (one the job added no records to)."""
    if not isinstance(job.report, StatementReport):
        return None
    try:
        account = await accounts_service.account_in_org(session, ctx.org_id, job.report.account_id)
    except NotFound:
        return None
    return account.currency


def _job_page(
    request: Request,
    page: Mapping[str, object],
    job: ImportJobRead,
    *,
    currency: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    values = {
        **page,
        "job": job,
        "unfinished": job.status in UNFINISHED,
        "problem": problem,
        "statement_currency": currency,
    }
    if is_htmx(request):
        return render(request, "_import_job.html", values, status=status)
    return render(request, "import_job.html", values, status=status)


@router.get("/orgs/{org_id}/import/jobs/{job_id}")
async def import_job_page(
    request: Request,
    job_id: uuid.UUID,
    session: SessionDep,
    ctx: RecordsImporter,
    caller: WebCaller,
    runner: JobRunnerDep,
) -> Response:
    """The job's progress; as an htmx request only the part that polls (until the job ends)."""
    job = await import_jobs.get_job(session, ctx, runner, job_id=job_id)
    currency = await _statement_currency(session, ctx, job)
    return _job_page(request, await frame(request, session, caller, ctx), job, currency=currency)


@router.post("/orgs/{org_id}/import/jobs/{job_id}/cancel", dependencies=[CsrfChecked])
async def cancel_import_job(
    request: Request,
    job_id: uuid.UUID,
    session: SessionDep,
    ctx: RecordsImporter,
    caller: WebCaller,
    runner: JobRunnerDep,
) -> Response:
    """Cancel as ``DELETE /import-jobs/{id}`` does; a job that ended meanwhile is shown as it
    ended, with the reason (409)."""
    page = await frame(request, session, caller, ctx)
    try:
        await import_jobs.cancel_job(session, ctx, runner, job_id=job_id)
    except Conflict as exc:
        job = await import_jobs.get_job(session, ctx, runner, job_id=job_id)
        currency = await _statement_currency(session, ctx, job)
        return _job_page(request, page, job, currency=currency, problem=exc.detail, status=409)
    return RedirectResponse(f"/orgs/{ctx.org_id}/import/jobs/{job_id}", status_code=303)
