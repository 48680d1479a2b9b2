from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from ledgerline.core.deps import SessionDep
from ledgerline.core.headers import created_location
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.imports_exports.category_rules import service as rules_service
from ledgerline.imports_exports.category_rules.schemas import RuleCreate, RuleRead, RuleUpdate
from ledgerline.orgs.dependencies import ImportSettingsManager

router = APIRouter(
    prefix="/orgs/{org_id}/category-rules", tags=["bank statements"], route_class=LedgerlineRoute
)

_ORG = (401, 403, 404, 422, 429)
_BODY = (400, 413, 415)


@router.get("", responses=error_responses(*_ORG))
async def list_category_rules(session: SessionDep, ctx: ImportSettingsManager) -> list[RuleRead]:
    """Every rule of the org in position order (a plain list: at most 500 rules)."""
    return await rules_service.list_rules(session, ctx.org_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, *_ORG, *_BODY),
)
async def create_category_rule(
    body: RuleCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: ImportSettingsManager,
) -> RuleRead:
    """Add a rule at ``position`` (the rules from there move down one), or last without one.
    409 once the org has 500 rules."""
    rule = await rules_service.create_rule(session, ctx, body)
    response.headers["Location"] = created_location(request, rule.id)
    return rule


@router.get("/{rule_id}", responses=error_responses(*_ORG))
async def get_category_rule(
    rule_id: uuid.UUID, session: SessionDep, ctx: ImportSettingsManager
) -> RuleRead:
    return await rules_service.get_rule(session, ctx.org_id, rule_id)


@router.patch("/{rule_id}", responses=error_responses(*_ORG, *_BODY))
async def update_category_rule(
    rule_id: uuid.UUID, body: RuleUpdate, session: SessionDep, ctx: ImportSettingsManager
) -> RuleRead:
    """Change some fields; a new ``position`` moves the rules in between by one."""
    return await rules_service.update_rule(session, ctx, rule_id, body)


@router.delete(
    "/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(*_ORG)
)
async def delete_category_rule(
    rule_id: uuid.UUID, session: SessionDep, ctx: ImportSettingsManager
) -> Response:
    """Remove a rule; the rules after it move up one."""
    await rules_service.delete_rule(session, ctx, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
