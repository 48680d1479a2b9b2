"""Accounts: the org's accounts with their balances (archived ones apart); for admins create,
rename, archive and delete; for analysts and admins a transfer and a reconcile form. Every
action is the API's service with the API's schema; what a role may not do is not shown, and
the guard refuses it when forged (403 page)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from ledgerline.accounts import closing, transfers
from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.models import AccountKind
from ledgerline.accounts.schemas import (
    AccountCreate,
    AccountListQuery,
    AccountRead,
    AccountUpdate,
    ReconcileRequest,
    ReconcileResult,
    TransferCreate,
)
from ledgerline.core.deps import SessionDep
from ledgerline.core.errors import AppError, ValidationFailed
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.web.dependencies import (
    AccountsManager,
    AccountsReader,
    AccountsReconciler,
    CsrfChecked,
    TransfersWriter,
    WebCaller,
    frame,
)
from ledgerline.web.errors import WebRoute
from ledgerline.web.pages.forms import FieldErrors, errors_of, form_values, parse
from ledgerline.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

KIND_LABELS = {
    AccountKind.CHECKING: "Checking",
    AccountKind.SAVINGS: "Savings",
    AccountKind.CREDIT_CARD: "Credit card",
    AccountKind.CASH: "Cash",
    AccountKind.LOAN: "Loan",
    AccountKind.INVESTMENT: "Investment",
    AccountKind.OTHER: "Other",
}
CHECKED = "on"
"""What a ticked checkbox sends."""


def _prefixed(prefix: str, errors: FieldErrors) -> FieldErrors:
    """Field errors keyed ``<form>-<field>``: three forms on one page share field names."""
    return {f"{prefix}-{name}": message for name, message in errors.items()}


async def _page(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    page: dict[str, Any],
    *,
    errors: FieldErrors | None = None,
    form: dict[str, object] | None = None,
    reconciled: ReconcileResult | None = None,
    reconciled_account: AccountRead | None = None,
    status: int = 200,
) -> Response:
    accounts = await accounts_service.list_accounts(
        session, ctx, AccountListQuery(include_archived=True)
    )
    return render(
        request,
        "accounts.html",
        {
            **page,
            "accounts": [a for a in accounts if not a.archived],
            "archived": [a for a in accounts if a.archived],
            "kinds": KIND_LABELS,
            "errors": errors or {},
            "form": form or {},
            "reconciled": reconciled,
            "reconciled_account": reconciled_account,
        },
        status=status,
    )


def _back(ctx: OrgContext) -> Response:
    return RedirectResponse(f"/orgs/{ctx.org_id}/accounts", status_code=303)


async def _attempt(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    page: dict[str, Any],
    prefix: str,
    values: dict[str, object],
    work: Any,
) -> Response | None:
    """Run the service call in a savepoint; its refusal is the page again with the API's
    message beside the field it names (422) or above the form (409 and the others)."""
    try:
        async with session.begin_nested():
            await work()
    except ValidationFailed as exc:
        return await _page(
            request,
            session,
            ctx,
            page,
            errors=_prefixed(prefix, errors_of(exc)),
            form={f"{prefix}-{k}": v for k, v in values.items()},
            status=422,
        )
    except AppError as exc:
        if exc.status >= 500 or exc.status in (401, 403):
            raise
        return await _page(
            request,
            session,
            ctx,
            page,
            errors={f"{prefix}-form": exc.detail},
            form={f"{prefix}-{k}": v for k, v in values.items()},
            status=exc.status,
        )
    return None


@router.get("/orgs/{org_id}/accounts")
async def accounts_page(
    request: Request, session: SessionDep, ctx: AccountsReader, caller: WebCaller
) -> Response:
    return await _page(request, session, ctx, await frame(request, session, caller, ctx))


@router.post("/orgs/{org_id}/accounts", dependencies=[CsrfChecked])
async def create_account(
    request: Request, session: SessionDep, ctx: AccountsManager, caller: WebCaller
) -> Response:
    page = await frame(request, session, caller, ctx)
    values = form_values(await request.form())
    body, errors = parse(AccountCreate, values)
    if body is None:
        form = {f"create-{k}": v for k, v in values.items()}
        return await _page(
            request, session, ctx, page, errors=_prefixed("create", errors), form=form, status=422
        )

    async def work() -> None:
        await accounts_service.create_account(session, ctx, body)

    return await _attempt(request, session, ctx, page, "create", values, work) or _back(ctx)


async def _update(
    request: Request,
    session: SessionDep,
    ctx: OrgContext,
    caller: WebCaller,
    account_id: uuid.UUID,
    values: dict[str, object],
) -> Response:
    page = await frame(request, session, caller, ctx)
    prefix = f"account-{account_id}"
    changes, errors = parse(AccountUpdate, values)
    if changes is None:
        form = {f"{prefix}-{k}": v for k, v in values.items()}
        return await _page(
            request, session, ctx, page, errors=_prefixed(prefix, errors), form=form, status=422
        )

    async def work() -> None:
        await accounts_service.update_account(session, ctx, account_id, changes)

    return await _attempt(request, session, ctx, page, prefix, values, work) or _back(ctx)


@router.post("/orgs/{org_id}/accounts/{account_id}/rename", dependencies=[CsrfChecked])
async def rename_account(
    request: Request,
    account_id: uuid.UUID,
    session: SessionDep,
    ctx: AccountsManager,
    caller: WebCaller,
) -> Response:
    form = form_values(await request.form())
    return await _update(request, session, ctx, caller, account_id, {"name": form.get("name")})


@router.post("/orgs/{org_id}/accounts/{account_id}/archive", dependencies=[CsrfChecked])
async def archive_account(
    request: Request,
    account_id: uuid.UUID,
    session: SessionDep,
    ctx: AccountsManager,
    caller: WebCaller,
) -> Response:
    """``archived=false`` brings an archived account back; anything else archives it."""
    form = form_values(await request.form())
    archived = form.get("archived") != "false"
    return await _update(request, session, ctx, caller, account_id, {"archived": archived})


@router.post("/orgs/{org_id}/accounts/{account_id}/delete", dependencies=[CsrfChecked])
async def delete_account(
    request: Request,
    account_id: uuid.UUID,
    session: SessionDep,
    ctx: AccountsManager,
    caller: WebCaller,
) -> Response:
    """Only an account that never held a record goes (the API's rule); else 409, archive it."""
    page = await frame(request, session, caller, ctx)

    async def work() -> None:
        await accounts_service.delete_account(session, ctx, account_id)

    prefix = f"account-{account_id}"
    return await _attempt(request, session, ctx, page, prefix, {}, work) or _back(ctx)


@router.post("/orgs/{org_id}/transfers", dependencies=[CsrfChecked])
async def create_transfer(
    request: Request, session: SessionDep, ctx: TransfersWriter, caller: WebCaller
) -> Response:
    page = await frame(request, session, caller, ctx)
    values = form_values(await request.form())
    body, errors = parse(TransferCreate, values)
    if body is None:
        form = {f"transfer-{k}": v for k, v in values.items()}
        return await _page(
            request,
            session,
            ctx,
            page,
            errors=_prefixed("transfer", errors),
            form=form,
            status=422,
        )

    async def work() -> None:
        await transfers.create_transfer(session, ctx, body)

    return await _attempt(request, session, ctx, page, "transfer", values, work) or _back(ctx)


@router.post("/orgs/{org_id}/reconcile", dependencies=[CsrfChecked])
async def reconcile_account(
    request: Request, session: SessionDep, ctx: AccountsReconciler, caller: WebCaller
) -> Response:
    """The statement's balance against the computed one: the page shows the difference, and
    with *close the period* ticked and no difference the account is closed to that date."""
    page = await frame(request, session, caller, ctx)
    values = form_values(await request.form())
    values["lock"] = values.get("lock") == CHECKED
    account_id = values.pop("account_id", None)
    body, errors = parse(ReconcileRequest, values)
    try:
        account = uuid.UUID(str(account_id))
    except ValueError:
        errors["account_id"] = "choose an account"
    form = {f"reconcile-{k}": v for k, v in values.items()}
    form["reconcile-account_id"] = account_id
    if body is None or errors:
        return await _page(
            request,
            session,
            ctx,
            page,
            errors=_prefixed("reconcile", errors),
            form=form,
            status=422,
        )
    results: list[ReconcileResult] = []

    async def work() -> None:
        results.append(await closing.reconcile(session, ctx, account, body))

    refused = await _attempt(request, session, ctx, page, "reconcile", values, work)
    if refused is not None:
        return refused
    reconciled_account = await accounts_service.get_account(session, ctx, account)
    return await _page(
        request,
        session,
        ctx,
        page,
        form=form,
        reconciled=results[0],
        reconciled_account=reconciled_account,
    )
