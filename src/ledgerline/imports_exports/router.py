from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse

from ledgerline.core.deps import SessionDep, SettingsDep
from ledgerline.core.errors import PROBLEM_MEDIA_TYPE
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute, body_limit
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports.schemas import ImportRejection, ImportReport
from ledgerline.orgs.dependencies import RecordsExporter, RecordsImporter
from ledgerline.records.schemas import RecordFilters

router = APIRouter(prefix="/orgs/{org_id}/records", tags=["records"], route_class=LedgerlineRoute)

MULTIPART_OVERHEAD = 64 * 1024


@router.post(
    "/import",
    responses={
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
    session: SessionDep,
    settings: SettingsDep,
    ctx: RecordsImporter,
    dry_run: Annotated[bool, Query(description="validate and count without writing")] = False,
    account_id: Annotated[
        uuid.UUID | None,
        Query(description="the account of every row without an `account` cell"),
    ] = None,
) -> ImportReport:
    """Import records from CSV: all rows or none; rows already imported count as duplicates."""
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


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404, 422, 429)},
)
async def export_records(
    filters: Annotated[RecordFilters, Query()], session: SessionDep, ctx: RecordsExporter
) -> StreamingResponse:
    """Stream the filtered records as CSV (same filters as the list), in constant memory."""
    return StreamingResponse(
        imports_exports_service.export_csv(session, ctx, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="records.csv"'},
    )
