from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from ledgerline.core.deps import SessionDep
from ledgerline.core.headers import (
    IdempotencyKeyHeader,
    IfMatch,
    IfNoneMatch,
    created_location,
    etag,
)
from ledgerline.core.openapi import error_responses
from ledgerline.core.protocol import PRIVATE_REVALIDATE
from ledgerline.core.routing import LedgerlineRoute, one_statement_write
from ledgerline.orgs.dependencies import RecordsDeleter, RecordsReader, RecordsWriter
from ledgerline.records import service as records_service
from ledgerline.records.schemas import (
    CategoryRead,
    RecordCreate,
    RecordListQuery,
    RecordPage,
    RecordRead,
    RecordUpdate,
)

router = APIRouter(prefix="/orgs/{org_id}", tags=["records"], route_class=LedgerlineRoute)

_ORG = (401, 404, 422, 429)
_BODY = (400, 413, 415)


@router.post(
    "/records",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, *_ORG, *_BODY),
)
@one_statement_write
async def create_record(
    body: RecordCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: RecordsWriter,
    key: IdempotencyKeyHeader,
) -> RecordRead:
    """Create a record. An ``Idempotency-Key`` makes retries safe."""
    record = await records_service.create_record(session, ctx, body, idempotency_key=key)
    response.headers["Location"] = created_location(request, record.id)
    response.headers["ETag"] = etag(record.version)
    return record


@router.get("/records", responses=error_responses(400, 403, *_ORG))
async def list_records(
    query: Annotated[RecordListQuery, Query()], session: SessionDep, ctx: RecordsReader
) -> RecordPage:
    """Records, filtered, sorted and paginated by cursor (or a small offset)."""
    return await records_service.list_records(session, ctx, query)


@router.get(
    "/records/{record_id}",
    response_model=RecordRead,
    responses={
        status.HTTP_304_NOT_MODIFIED: {"description": "Not modified: If-None-Match holds its ETag"},
        **error_responses(400, *_ORG),
    },
)
async def get_record(
    record_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    ctx: RecordsReader,
    if_none_match: IfNoneMatch,
) -> RecordRead | Response:
    """One record, with its version as ``ETag``; 304 when ``If-None-Match`` holds it."""
    record = await records_service.get_record(session, ctx, record_id)
    headers = {"ETag": etag(record.version), "Cache-Control": PRIVATE_REVALIDATE}
    if if_none_match.match(headers["ETag"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    response.headers.update(headers)
    return record


@router.patch("/records/{record_id}", responses=error_responses(403, 409, 412, *_ORG, *_BODY))
async def update_record(
    record_id: uuid.UUID,
    body: RecordUpdate,
    response: Response,
    session: SessionDep,
    ctx: RecordsWriter,
    if_match: IfMatch,
) -> RecordRead:
    """Change some fields. With ``If-Match: "<version>"`` a stale version answers 412."""
    record = await records_service.update_record(session, ctx, record_id, body, if_match=if_match)
    response.headers["ETag"] = etag(record.version)
    return record


@router.delete(
    "/records/{record_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 403, 409, 412, *_ORG),
)
async def delete_record(
    record_id: uuid.UUID, session: SessionDep, ctx: RecordsDeleter, if_match: IfMatch
) -> Response:
    """Soft-delete a record (admins); it can be restored."""
    await records_service.delete_record(session, ctx, record_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/records/{record_id}/restore", responses=error_responses(403, 409, *_ORG))
async def restore_record(
    record_id: uuid.UUID, response: Response, session: SessionDep, ctx: RecordsDeleter
) -> RecordRead:
    """Bring a soft-deleted record back (admins); 409 when it is not deleted."""
    record = await records_service.restore_record(session, ctx, record_id)
    response.headers["ETag"] = etag(record.version)
    return record


@router.get("/categories", responses=error_responses(*_ORG))
async def list_categories(session: SessionDep, ctx: RecordsReader) -> list[CategoryRead]:
    """The org's categories with their number of live records."""
    return await records_service.list_categories(session, ctx)
