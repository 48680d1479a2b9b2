from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.schemas import (
    AccountCreate,
    AccountListQuery,
    AccountRead,
    AccountUpdate,
    BalanceOn,
    BalancePoint,
    BalancesQuery,
)
from ledgerline.core.deps import SessionDep
from ledgerline.core.headers import IdempotencyKeyHeader, IfMatch, etag
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.orgs.dependencies import AccountsManager, AccountsReader

router = APIRouter(prefix="/orgs/{org_id}", tags=["accounts"], route_class=LedgerlineRoute)

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
    response.headers["Location"] = str(
        request.url_for("get_account", org_id=ctx.org_id, account_id=account.id).path
    )
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
    session: SessionDep,
    ctx: AccountsReader,
) -> list[BalancePoint]:
    """End-of-period balances over the range (``granularity`` and dates as for trends)."""
    return await accounts_service.balance_series(session, ctx, account_id, query)
