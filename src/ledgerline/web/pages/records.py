"""Records: the filtered list (filters in the URL, as the API's query parameters), the record
form, delete, the trash and restore, and the export of the current view."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.schemas import AccountListQuery, AccountRead
from ledgerline.core.deps import SessionDep, SnapshotSessionDep, StreamingSessionDep
from ledgerline.core.errors import AppError, PreconditionFailed, ValidationFailed
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.permissions import Permission, role_allows
from ledgerline.records import service as records_service
from ledgerline.records.schemas import (
    DeletedFilter,
    RecordCreate,
    RecordFilters,
    RecordListQuery,
    RecordRead,
    RecordSort,
    RecordType,
    RecordUpdate,
)
from ledgerline.web.dependencies import (
    CsrfChecked,
    RecordsDeleter,
    RecordsExporter,
    RecordsReader,
    RecordsWriter,
    WebCaller,
    frame,
)
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, errors_of, form_values, parse, query_values
from ledgerline.web.templating import is_htmx, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

FILTER_FIELDS = tuple(RecordFilters.model_fields)
PAGE_SIZE = 50
SORT_LABELS = {
    RecordSort.DATE_DESC: "Newest first",
    RecordSort.DATE_ASC: "Oldest first",
    RecordSort.AMOUNT_DESC: "Largest amount first",
    RecordSort.AMOUNT_ASC: "Smallest amount first",
    RecordSort.CREATED_DESC: "Last entered first",
    RecordSort.CREATED_ASC: "First entered first",
}
FORM_FIELDS = ("amount", "type", "category", "date", "notes", "currency")


def _query_string(values: dict[str, object], **changes: object) -> str:
    merged = {**values, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "":
            continue
        if isinstance(value, list):
            pairs.extend((key, str(item)) for item in value)
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs)


def _has_blank_values(request: Request) -> bool:
    return any(not value.strip() for _key, value in request.query_params.multi_items())


async def _accounts(session: SessionDep, ctx: OrgContext) -> list[AccountRead]:
    """Every account for the filter, when the caller may read accounts and there are two."""
    if not role_allows(ctx.role, Permission.ACCOUNTS_READ):
        return []
    query = AccountListQuery(include_archived=True)
    accounts = await accounts_service.list_accounts(session, ctx, query)
    return accounts if len(accounts) > 1 else []


@router.get("/orgs/{org_id}/records")
async def records_page(
    request: Request, session: SnapshotSessionDep, ctx: RecordsReader, caller: WebCaller
) -> Response:
    """Every filter of the API's list; a view is its URL, so it can be bookmarked and shared.
    The page, its totals and the filters' choices are read in one snapshot."""
    values = query_values(request.query_params)
    if values.get("sort") == RecordSort.DATE_DESC.value:
        del values["sort"]
    canonical = f"{request.url.path}?{_query_string(values)}".rstrip("?")
    if _has_blank_values(request) and not is_htmx(request):
        return RedirectResponse(canonical, status_code=303)
    query, errors = parse(RecordListQuery, {"limit": PAGE_SIZE, **values})
    page = totals = None
    if query is not None:
        try:
            page = await records_service.list_records(session, ctx, query)
            totals = await records_service.view_totals(session, ctx, query)
        except ValidationFailed as exc:
            errors = errors_of(exc)
        except AppError as exc:
            if exc.status != 400:
                raise
            errors = {"cursor": exc.detail}
    filters = {k: v for k, v in values.items() if k in FILTER_FIELDS}
    view = {k: v for k, v in values.items() if k not in {"cursor", "limit", "include_total"}}
    data = {
        **await frame(request, session, caller, ctx),
        "values": values,
        "errors": errors,
        "page": page,
        "totals": totals,
        "total": sum(t.count for t in totals) if totals is not None else 0,
        "categories": await records_service.list_categories(session, ctx),
        "accounts": await _accounts(session, ctx),
        "types": list(RecordType),
        "sorts": SORT_LABELS,
        "next_url": (
            f"?{_query_string(view, cursor=page.next_cursor)}"
            if page is not None and page.next_cursor
            else None
        ),
        "first_url": f"?{_query_string(view)}" if "cursor" in values else None,
        "export_url": f"/orgs/{ctx.org_id}/records/export?{_query_string(filters)}".rstrip("?"),
        "filtered": bool(filters),
    }
    if is_htmx(request):
        return render(request, "records/_results.html", data, headers={"HX-Push-Url": canonical})
    return render(request, "records/index.html", data)


@router.get("/orgs/{org_id}/records/export")
async def export_records(
    request: Request,
    session: StreamingSessionDep,
    ctx: RecordsExporter,
) -> Response:
    """The current view's records as CSV, streamed by the API's export service."""
    filters, errors = parse(RecordFilters, query_values(request.query_params))
    if filters is None:
        raise ValidationFailed([], detail="; ".join(f"{k}: {v}" for k, v in errors.items()))
    return StreamingResponse(
        imports_exports_service.export_csv(session, ctx, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="records.csv"'},
    )


async def _form_page(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    caller: WebCaller,
    *,
    record: RecordRead | None,
    values: dict[str, object],
    errors: FieldErrors,
    conflict: RecordRead | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "records/form.html",
        {
            **await frame(request, session, caller, ctx),
            "record": record,
            "values": values,
            "errors": errors,
            "conflict": conflict,
            "types": list(RecordType),
            "categories": await records_service.list_categories(session, ctx),
        },
        status=status,
    )


def _record_values(record: RecordRead) -> dict[str, object]:
    return {
        "amount": record.amount,
        "type": record.type.value,
        "category": record.category,
        "date": record.date.isoformat(),
        "notes": record.notes or "",
        "currency": record.currency,
        "version": record.version,
    }


@router.get("/orgs/{org_id}/records/new")
async def new_record_page(
    request: Request, session: SessionDep, ctx: RecordsWriter, caller: WebCaller
) -> Response:
    values: dict[str, object] = {"type": RecordType.EXPENSE.value, "currency": ctx.org.currency}
    return await _form_page(request, session, ctx, caller, record=None, values=values, errors={})


@router.post("/orgs/{org_id}/records/new", dependencies=[CsrfChecked])
async def create_record(
    request: Request, session: SessionDep, ctx: RecordsWriter, caller: WebCaller
) -> Response:
    values = form_values(await request.form())
    body, errors = parse(RecordCreate, {k: v for k, v in values.items() if k in FORM_FIELDS})
    if body is not None:
        try:
            await records_service.create_record(session, ctx, body)
        except ValidationFailed as exc:
            errors = errors_of(exc)
        else:
            return RedirectResponse(f"/orgs/{ctx.org_id}/records", status_code=303)
    return await _form_page(
        request, session, ctx, caller, record=None, values=values, errors=errors, status=422
    )


@router.get("/orgs/{org_id}/records/{record_id}/edit")
async def edit_record_page(
    request: Request,
    record_id: uuid.UUID,
    session: SessionDep,
    ctx: RecordsWriter,
    caller: WebCaller,
) -> Response:
    record = await records_service.get_record(session, ctx, record_id)
    return await _form_page(
        request, session, ctx, caller, record=record, values=_record_values(record), errors={}
    )


def _version(values: dict[str, object]) -> int | None:
    raw = values.get("version")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


@router.post("/orgs/{org_id}/records/{record_id}/edit", dependencies=[CsrfChecked])
async def update_record(
    request: Request,
    record_id: uuid.UUID,
    session: SessionDep,
    ctx: RecordsWriter,
    caller: WebCaller,
) -> Response:
    """Saved with the version the form was loaded at (``If-Match`` underneath): if someone
    changed the record meanwhile, the form shows their values instead of overwriting them."""
    values = form_values(await request.form())
    record = await records_service.get_record(session, ctx, record_id)
    sent = {k: v for k, v in values.items() if k in FORM_FIELDS}
    sent["notes"] = values.get("notes")
    changes, errors = parse(RecordUpdate, sent)
    if changes is not None:
        try:
            await records_service.update_record(
                session, ctx, record_id, changes, if_match=_version(values)
            )
        except PreconditionFailed:
            return await _form_page(
                request,
                session,
                ctx,
                caller,
                record=record,
                values={**values, "version": record.version},
                errors={},
                conflict=record,
                status=409,
            )
        except ValidationFailed as exc:
            errors = errors_of(exc)
        else:
            return RedirectResponse(f"/orgs/{ctx.org_id}/records", status_code=303)
    return await _form_page(
        request, session, ctx, caller, record=record, values=values, errors=errors, status=422
    )


@router.post("/orgs/{org_id}/records/{record_id}/delete", dependencies=[CsrfChecked])
async def delete_record(
    request: Request, record_id: uuid.UUID, session: SessionDep, ctx: RecordsDeleter
) -> Response:
    values = form_values(await request.form())
    await records_service.delete_record(session, ctx, record_id, if_match=_version(values))
    return RedirectResponse(f"/orgs/{ctx.org_id}/records", status_code=303)


@router.get("/orgs/{org_id}/trash")
async def trash_page(
    request: Request, session: SessionDep, ctx: RecordsDeleter, caller: WebCaller
) -> Response:
    values = query_values(request.query_params)
    query, errors = parse(
        RecordListQuery,
        {"cursor": values.get("cursor"), "limit": PAGE_SIZE, "deleted": DeletedFilter.ONLY},
    )
    page = await records_service.list_records(session, ctx, query) if query else None
    return render(
        request,
        "records/trash.html",
        {
            **await frame(request, session, caller, ctx),
            "page": page,
            "errors": errors,
            "next_url": f"?cursor={page.next_cursor}" if page and page.next_cursor else None,
        },
    )


@router.post("/orgs/{org_id}/records/{record_id}/restore", dependencies=[CsrfChecked])
async def restore_record(
    record_id: uuid.UUID, session: SessionDep, ctx: RecordsDeleter
) -> Response:
    await records_service.restore_record(session, ctx, record_id)
    return RedirectResponse(f"/orgs/{ctx.org_id}/trash", status_code=303)
