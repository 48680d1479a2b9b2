"""Bank statements on the import page: choose an account, upload the bank's file (OFX/QFX, QIF,
CAMT, MT940, or CSV read through a saved mapping), see the dry run (rows to create, duplicates,
rows skipped, the statement's closing balance against the account's), then confirm. Both steps
are ``statement_import.import_statement``, the service of
``POST /accounts/{account_id}/statements``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from ledgerline.core.deps import SessionDep, SettingsDep
from ledgerline.core.errors import ContentTooLarge, UnsupportedMediaType, ValidationFailed
from ledgerline.core.routing import body_limit
from ledgerline.imports_exports import jobs as import_jobs
from ledgerline.imports_exports import statement_import
from ledgerline.imports_exports.dependencies import JobRunnerDep
from ledgerline.imports_exports.router import MULTIPART_OVERHEAD
from ledgerline.imports_exports.schemas import StatementReport
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.web import staging
from ledgerline.web.dependencies import CsrfChecked, StatementsImporter, WebCaller
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.imports import EXPIRED, import_frame
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Problem = tuple[StatementReport | None, str | None, int]


def _page(
    request: Request, page: Mapping[str, object], values: Mapping[str, object], *, status: int
) -> Response:
    job_bytes = request.app.state.settings.web_import_job_bytes
    return render(request, "import.html", {**page, "job_bytes": job_bytes, **values}, status=status)


async def _run(
    session: SessionDep,
    settings: SettingsDep,
    ctx: OrgContext,
    account_id: uuid.UUID,
    profile_id: uuid.UUID | None,
    path: Path,
    file_name: str,
    *,
    dry_run: bool,
) -> Problem:
    """The report, or why the file cannot be imported (with its report when the service gave
    one) and the status the API answers; a refusal rolls back, as the API's does."""
    options = statement_import.StatementOptions(profile_id=profile_id, file_name=file_name)
    with path.open("rb") as stream:
        try:
            report = await statement_import.import_statement(
                session,
                ctx,
                account_id,
                stream,
                options=options,
                dry_run=dry_run,
                max_rows=settings.import_max_rows,
                max_bytes=settings.import_max_bytes,
            )
        except statement_import.StatementRejected as exc:
            await session.rollback()
            return exc.report, exc.detail, 422
        except ValidationFailed as exc:
            await session.rollback()
            detail = "; ".join(e.message for e in exc.errors) or exc.detail
            return None, detail, 422
        except (ContentTooLarge, UnsupportedMediaType) as exc:
            await session.rollback()
            return None, exc.detail, exc.status
    return report, None, 200


@router.post("/orgs/{org_id}/import/statement", dependencies=[CsrfChecked])
@body_limit(lambda settings: settings.import_max_bytes + MULTIPART_OVERHEAD)
async def preview_statement(
    request: Request,
    file: Annotated[UploadFile, File()],
    account_id: Annotated[uuid.UUID, Form()],
    session: SessionDep,
    settings: SettingsDep,
    ctx: StatementsImporter,
    caller: WebCaller,
    runner: JobRunnerDep,
    background: BackgroundTasks,
    profile_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """A dry run to confirm; a file over ``web_import_job_bytes`` is imported at once as an
    import job instead, with the progress bar of the CSV import's large files."""
    page = await import_frame(request, session, caller, ctx)
    file_name = file.filename or "statement"
    chosen = {
        "statement_account_id": str(account_id),
        "statement_profile_id": str(profile_id) if profile_id else None,
    }
    if file.size is not None and file.size > settings.import_max_bytes:
        too_large = f"the file is larger than {settings.import_max_bytes} bytes"
        return _page(request, page, {**chosen, "statement_problem": too_large}, status=413)
    if file.size is not None and file.size > settings.web_import_job_bytes:
        options = statement_import.StatementOptions(profile_id=profile_id, file_name=file_name)
        try:
            job, _queued = await import_jobs.accept(
                session,
                ctx,
                file.file,
                dry_run=False,
                max_rows=settings.import_max_rows,
                max_bytes=settings.import_max_bytes,
                size=file.size,
                file_name=file_name,
                account_id=account_id,
                statement=options,
            )
        except (ContentTooLarge, UnsupportedMediaType, ValidationFailed) as exc:
            await session.rollback()
            refused = {**chosen, "statement_problem": exc.detail}
            return _page(request, page, refused, status=exc.status)
        background.add_task(runner.start, job)
        return RedirectResponse(f"/orgs/{ctx.org_id}/import/jobs/{job.id}", status_code=303)
    token = staging.stage(file.file, org_id=ctx.org_id, user_id=caller.user.id)
    path = staging.staged(token, org_id=ctx.org_id, user_id=caller.user.id)
    assert path is not None
    report, problem, status = await _run(
        session, settings, ctx, account_id, profile_id, path, file_name, dry_run=True
    )
    if problem is not None:
        path.unlink(missing_ok=True)
    values = {
        **chosen,
        "statement": report,
        "statement_problem": problem,
        "statement_token": token if problem is None else None,
        "statement_file": file_name,
    }
    return _page(request, page, values, status=status)


@router.post("/orgs/{org_id}/import/statement/confirm", dependencies=[CsrfChecked])
async def confirm_statement(
    request: Request,
    token: Annotated[str, Form(max_length=64)],
    account_id: Annotated[uuid.UUID, Form()],
    session: SessionDep,
    settings: SettingsDep,
    ctx: StatementsImporter,
    caller: WebCaller,
    profile_id: Annotated[uuid.UUID | None, Form()] = None,
    file_name: Annotated[str, Form(max_length=255)] = "statement",
) -> Response:
    page = await import_frame(request, session, caller, ctx)
    path = staging.staged(token, org_id=ctx.org_id, user_id=caller.user.id)
    if path is None:
        return _page(request, page, {"statement_problem": EXPIRED}, status=410)
    report, problem, status = await _run(
        session, settings, ctx, account_id, profile_id, path, file_name, dry_run=False
    )
    path.unlink(missing_ok=True)
    values = {
        "statement": report,
        "statement_problem": problem,
        "statement_done": problem is None,
        "statement_file": file_name,
    }
    return _page(request, page, values, status=status)
