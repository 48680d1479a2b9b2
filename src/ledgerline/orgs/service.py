"""Orgs and memberships. Every membership change is audited; an org keeps an active admin."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import service as accounts_service
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.config import Settings
from ledgerline.core.db import uuid_parameter
from ledgerline.core.errors import Conflict, NotFound
from ledgerline.core.money import normalize_currency
from ledgerline.core.text import fold_key
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Membership, Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import MemberRead, MemberUpdate, OrgRead, OrgWithRole
from ledgerline.users.models import User
from ledgerline.users.schemas import MembershipSummary

LAST_ADMIN = "an organization must keep at least one active admin"
ALREADY_MEMBER = "this user is already a member of the organization"


_ORGS_OF_USER = (
    select(Org, Membership.role)
    .join(Membership, Membership.org_id == Org.id)
    .where(Membership.user_id == uuid_parameter("user_id"), Membership.is_active.is_(True))
    .order_by(Org.name, Org.id)
)
"""Built once: it is read for ``GET /orgs`` and for every page of the web app."""


async def list_orgs_of(session: AsyncSession, user_id: uuid.UUID) -> list[OrgWithRole]:
    rows = await session.execute(_ORGS_OF_USER, {"user_id": user_id})
    return [
        OrgWithRole(
            id=org.id, name=org.name, currency=org.currency, created_at=org.created_at, role=role
        )
        for org, role in rows
    ]


class OrgSummary(NamedTuple):
    id: uuid.UUID
    name: str
    currency: str
    is_default: bool
    active_members: int


async def list_all_orgs(session: AsyncSession) -> list[OrgSummary]:
    """Every org of the instance with its count of active members (for operators)."""
    active_members = func.count(Membership.user_id).filter(Membership.is_active.is_(True))
    rows = await session.execute(
        select(Org.id, Org.name, Org.currency, Org.is_default, active_members)
        .outerjoin(Membership, Membership.org_id == Org.id)
        .group_by(Org.id, Org.name, Org.currency, Org.is_default)
        .order_by(Org.name, Org.id)
    )
    return [OrgSummary(*row) for row in rows]


_MEMBERSHIPS_OF_USER = (
    select(Membership.org_id, Org.name, Membership.role, Membership.is_active)
    .join(Org, Org.id == Membership.org_id)
    .where(Membership.user_id == uuid_parameter("user_id"))
    .order_by(Org.name, Org.id)
)


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[MembershipSummary]:
    rows = await session.execute(_MEMBERSHIPS_OF_USER, {"user_id": user_id})
    return [
        MembershipSummary(org_id=org_id, org_name=name, role=role, is_active=active)
        for org_id, name, role, active in rows
    ]


async def create_org(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str, currency: str
) -> OrgRead:
    org = Org(name=name, currency=currency)
    session.add(org)
    await session.flush()
    await add_membership(session, org_id=org.id, user_id=owner_id, role=Role.ADMIN)
    await accounts_service.default_account(session, org.id, org.currency)
    return OrgRead.model_validate(org)


async def get_or_create_default_org(session: AsyncSession, settings: Settings) -> Org:
    org = await session.scalar(select(Org).where(Org.is_default.is_(True)))
    if org is None:
        org = Org(
            name=settings.default_org_name,
            currency=normalize_currency(settings.default_currency),
            is_default=True,
        )
        session.add(org)
        await session.flush()
    return org


async def add_membership(
    session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> Membership:
    membership = Membership(org_id=org_id, user_id=user_id, role=role.value, is_active=True)
    session.add(membership)
    await session.flush()
    return membership


async def rename_org(session: AsyncSession, ctx: OrgContext, *, name: str) -> OrgRead:
    org = await session.get_one(Org, ctx.org_id)
    if org.name != name:
        audit_service.record_change(
            session,
            org_id=org.id,
            actor_id=ctx.user_id,
            action=AuditAction.ORG_UPDATED,
            entity_type=EntityType.ORG,
            entity_id=org.id,
            changes={"name": [org.name, name]},
        )
        org.name = name
        await session.flush()
    return OrgRead.model_validate(org)


def _member_statement() -> Any:
    return select(Membership, User).join(User, User.id == Membership.user_id)


def _member_read(membership: Membership, user: User) -> MemberRead:
    return MemberRead(
        user_id=user.id,
        email=user.email,
        full_name=user.full_name,
        role=Role(membership.role),
        is_active=membership.is_active,
        joined_at=membership.joined_at,
    )


async def list_members(session: AsyncSession, ctx: OrgContext) -> list[MemberRead]:
    rows = await session.execute(
        _member_statement()
        .where(Membership.org_id == ctx.org_id)
        .order_by(Membership.joined_at, Membership.user_id)
    )
    return [_member_read(membership, user) for membership, user in rows]


async def add_member(
    session: AsyncSession, ctx: OrgContext, *, email: str, role: Role
) -> MemberRead:
    user = await session.scalar(select(User).where(User.email_key == fold_key(email)))
    if user is None:
        raise NotFound("no user has this email; they must register first")
    if await session.get(Membership, (ctx.org_id, user.id)) is not None:
        raise Conflict(ALREADY_MEMBER)
    try:
        # The check above cannot see another request's uncommitted insert of the same
        # membership; the primary key decides between them.
        async with session.begin_nested():
            membership = await add_membership(
                session, org_id=ctx.org_id, user_id=user.id, role=role
            )
    except IntegrityError as exc:
        raise Conflict(ALREADY_MEMBER) from exc
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=AuditAction.MEMBER_ADDED,
        entity_type=EntityType.MEMBERSHIP,
        entity_id=user.id,
        changes={"role": [None, role.value], "is_active": [None, True]},
    )
    return _member_read(membership, user)


async def _lock_members(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Make this transaction the only one changing the org's members until it ends.

    A change of an admin locks its target's membership, then every active admin's. Two admins
    demoting each other would take the same two rows in opposite orders and deadlock; behind
    a lock on the org row, taken first, the second waits for the first to commit and then finds
    itself the last admin (409). ``FOR NO KEY UPDATE`` leaves the org's records free to be
    written meanwhile (their foreign keys only take ``KEY SHARE``). SQLite writers are
    serialised already.
    """
    await session.execute(select(Org.id).where(Org.id == org_id).with_for_update(key_share=True))


async def _get_member(
    session: AsyncSession, ctx: OrgContext, user_id: uuid.UUID
) -> tuple[Membership, User]:
    await _lock_members(session, ctx.org_id)
    row = (
        await session.execute(
            _member_statement()
            .where(Membership.org_id == ctx.org_id, Membership.user_id == user_id)
            .with_for_update(of=Membership)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("this user is not a member of the organization")
    return row[0], row[1]


async def _ensure_another_active_admin(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Lock the org's active admins and check one other than ``user_id`` remains."""
    admins = await session.scalars(
        select(Membership.user_id)
        .where(
            Membership.org_id == org_id,
            Membership.role == Role.ADMIN.value,
            Membership.is_active.is_(True),
        )
        .with_for_update()
    )
    if not [admin for admin in admins if admin != user_id]:
        raise Conflict(LAST_ADMIN)


async def update_member(
    session: AsyncSession, ctx: OrgContext, *, user_id: uuid.UUID, changes: MemberUpdate
) -> MemberRead:
    membership, user = await _get_member(session, ctx, user_id)
    new_role = changes.role.value if changes.role is not None else membership.role
    new_active = changes.is_active if changes.is_active is not None else membership.is_active
    was_active_admin = membership.role == Role.ADMIN.value and membership.is_active
    stays_active_admin = new_role == Role.ADMIN.value and new_active
    if was_active_admin and not stays_active_admin:
        await _ensure_another_active_admin(session, ctx.org_id, user_id)
    diff: dict[str, list[Any]] = {}
    if new_role != membership.role:
        diff["role"] = [membership.role, new_role]
        membership.role = new_role
    if new_active != membership.is_active:
        diff["is_active"] = [membership.is_active, new_active]
        membership.is_active = new_active
    if diff:
        audit_service.record_change(
            session,
            org_id=ctx.org_id,
            actor_id=ctx.user_id,
            action=AuditAction.MEMBER_UPDATED,
            entity_type=EntityType.MEMBERSHIP,
            entity_id=user_id,
            changes=diff,
        )
        await session.flush()
    return _member_read(membership, user)


async def remove_member(session: AsyncSession, ctx: OrgContext, *, user_id: uuid.UUID) -> None:
    membership, _user = await _get_member(session, ctx, user_id)
    if membership.role == Role.ADMIN.value and membership.is_active:
        await _ensure_another_active_admin(session, ctx.org_id, user_id)
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=AuditAction.MEMBER_REMOVED,
        entity_type=EntityType.MEMBERSHIP,
        entity_id=user_id,
        changes={"role": [membership.role, None], "is_active": [membership.is_active, None]},
    )
    await session.delete(membership)
    await session.flush()
