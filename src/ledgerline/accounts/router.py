from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from ledgerline.accounts import closing, transfers
from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.schemas import (
    AccountCreate,
    AccountListQuery,
    AccountRead,
    AccountUpdate,
    BalanceOn,
    BalancePoint,
    BalancesQuery,
    ReconcileRequest,
    ReconcileResult,
    TransferCreate,
    TransferRead,
    TransferUpdate,
)
from ledgerline.core.deps import SessionDep, SnapshotSessionDep
from ledgerline.core.headers import IdempotencyKeyHeader, IfMatch, created_location, etag
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.orgs.dependencies import (
    AccountsManager,
    AccountsReader,
    AccountsReconciler,
    TransfersDeleter,
    TransfersWriter,
)

router = APIRouter(
    prefix="/orgs/{org_id}", tags=["accounts and transfers"], route_class=LedgerlineRoute
)

_ORG = (401, 404, 422, 429)
_BODY = (400, 413, 415)


@router.get("/accounts", responses=error_responses(*_ORG))
async def list_accounts(
    query: Annotated[AccountListQuery, Query()], session: SessionDep, ctx: AccountsReader
) -> list[AccountRead]:
    """The org's accounts with their balances (at ``on``, default today)."""
    return await accounts_service.list_accounts(session, ctx, query)


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, *_ORG, *_BODY),
)
async def create_account(
    body: AccountCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: AccountsManager,
    key: IdempotencyKeyHeader,
) -> AccountRead:
    """Create an account (admins). An ``Idempotency-Key`` makes retries safe."""
    account = await accounts_service.create_account(session, ctx, body, idempotency_key=key)
    response.headers["Location"] = created_location(request, account.id)
    response.headers["ETag"] = etag(account.version)
    return account


@router.get("/accounts/{account_id}", responses=error_responses(*_ORG))
async def get_account(
    account_id: uuid.UUID,
    query: Annotated[BalanceOn, Query()],
    response: Response,
    session: SessionDep,
    ctx: AccountsReader,
) -> AccountRead:
    """One account with its balance, and its version as ``ETag``."""
    account = await accounts_service.get_account(session, ctx, account_id, query.on)
    response.headers["ETag"] = etag(account.version)
    return account


@router.patch("/accounts/{account_id}", responses=error_responses(403, 409, 412, *_ORG, *_BODY))
async def update_account(
    account_id: uuid.UUID,
    body: AccountUpdate,
    response: Response,
    session: SessionDep,
    ctx: AccountsManager,
    if_match: IfMatch,
) -> AccountRead:
    """Change some fields (admins). With ``If-Match: "<version>"`` a stale version is 412."""
    account = await accounts_service.update_account(
        session, ctx, account_id, body, if_match=if_match
    )
    response.headers["ETag"] = etag(account.version)
    return account


@router.delete(
    "/accounts/{account_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 403, 409, 412, *_ORG),
)
async def delete_account(
    account_id: uuid.UUID, session: SessionDep, ctx: AccountsManager, if_match: IfMatch
) -> Response:
    """Delete an account that never held a record (admins); archive the others."""
    await accounts_service.delete_account(session, ctx, account_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/accounts/{account_id}/balances", responses=error_responses(*_ORG))
async def account_balances(
    account_id: uuid.UUID,
    query: Annotated[BalancesQuery, Query()],
    session: SnapshotSessionDep,
    ctx: AccountsReader,
) -> list[BalancePoint]:
    """End-of-period balances over the range (``granularity`` and dates as for trends)."""
    return await accounts_service.balance_series(session, ctx, account_id, query)


@router.post("/accounts/{account_id}/reconcile", responses=error_responses(403, *_ORG, *_BODY))
async def reconcile_account(
    account_id: uuid.UUID, body: ReconcileRequest, session: SessionDep, ctx: AccountsReconciler
) -> ReconcileResult:
    """Compare a statement's balance with the computed one; with ``lock`` and no difference,
    close the account's records up to the statement's date."""
    return await closing.reconcile(session, ctx, account_id, body)


@router.post(
    "/transfers",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, *_ORG, *_BODY),
)
async def create_transfer(
    body: TransferCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: TransfersWriter,
    key: IdempotencyKeyHeader,
) -> TransferRead:
    """Move money between two accounts: two records of type ``transfer``."""
    transfer = await transfers.create_transfer(session, ctx, body, idempotency_key=key)
    response.headers["Location"] = created_location(request, transfer.id)
    response.headers["ETag"] = etag(transfer.version)
    return transfer


@router.get("/transfers/{transfer_id}", responses=error_responses(*_ORG))
async def get_transfer(
    transfer_id: uuid.UUID, response: Response, session: SessionDep, ctx: AccountsReader
) -> TransferRead:
    """One transfer, with its version as ``ETag``."""
    transfer = await transfers.get_transfer(session, ctx, transfer_id)
    response.headers["ETag"] = etag(transfer.version)
    return transfer


@router.patch("/transfers/{transfer_id}", responses=error_responses(403, 409, 412, *_ORG, *_BODY))
async def update_transfer(
    transfer_id: uuid.UUID,
    body: TransferUpdate,
    response: Response,
    session: SessionDep,
    ctx: TransfersWriter,
    if_match: IfMatch,
) -> TransferRead:
    """Change amounts, date or notes; both legs follow. ``If-Match`` honoured."""
    transfer = await transfers.update_transfer(session, ctx, transfer_id, body, if_match=if_match)
    response.headers["ETag"] = etag(transfer.version)
    return transfer


@router.delete(
    "/transfers/{transfer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 403, 409, 412, *_ORG),
)
async def delete_transfer(
    transfer_id: uuid.UUID, session: SessionDep, ctx: TransfersDeleter, if_match: IfMatch
) -> Response:
    """Soft-delete a transfer and both its legs (admins); it can be restored."""
    await transfers.delete_transfer(session, ctx, transfer_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/transfers/{transfer_id}/restore", responses=error_responses(403, 409, *_ORG))
async def restore_transfer(
    transfer_id: uuid.UUID, response: Response, session: SessionDep, ctx: TransfersDeleter
) -> TransferRead:
    """Bring a deleted transfer back with both legs (admins); 409 when it is not deleted."""
    transfer = await transfers.restore_transfer(session, ctx, transfer_id)
    response.headers["ETag"] = etag(transfer.version)
    return transfer
