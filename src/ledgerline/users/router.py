from __future__ import annotations

from fastapi import APIRouter

from ledgerline.auth.dependencies import CurrentCaller, PasswordHasherDep
from ledgerline.core.deps import ClientAddress, RateLimiterDep, SessionDep
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.users import service as users_service
from ledgerline.users.schemas import MeRead, MeUpdate

router = APIRouter(prefix="/users", tags=["users"], route_class=LedgerlineRoute)


@router.get("/me", responses=error_responses(401, 429))
async def get_me(session: SessionDep, caller: CurrentCaller) -> MeRead:
    """Your account and your memberships."""
    return await users_service.read_me(session, caller.user)


@router.patch("/me", responses=error_responses(400, 401, 413, 415, 422, 429))
async def update_me(
    body: MeUpdate,
    session: SessionDep,
    caller: CurrentCaller,
    hasher: PasswordHasherDep,
    limiter: RateLimiterDep,
    address: ClientAddress,
) -> MeRead:
    """Change your name or password; a new password ends every other sign-in.

    A wrong `current_password` counts as a failed sign-in (429 once those limits are used up).
    """
    return await users_service.update_me(
        session,
        hasher,
        limiter,
        user=caller.user,
        login_id=caller.login.id,
        client_address=address,
        changes=body,
    )
