"""Typed helpers that build users, orgs and tokens directly through the services."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from ledgerline.audit.models import AuditEntry
from ledgerline.auth.models import Login
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.auth.tokens import AccessTokens
from ledgerline.core.db import Database
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.users import service as users_service

PASSWORD = "a-Sturdy-passphrase-42"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    org_id: uuid.UUID
    admin: Actor
    analyst: Actor
    viewer: Actor
    outsider: Actor
    outsider_org_id: uuid.UUID
    by_role: dict[Role, Actor] = field(default_factory=dict)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"


async def make_user(
    app: FastAPI, *, email: str | None = None, full_name: str = "Test User"
) -> Actor:
    database: Database = app.state.database
    hasher: PasswordHasher = app.state.password_hasher
    tokens: AccessTokens = app.state.access_tokens
    async with database.sessions() as session:
        user = await users_service.create_user(
            session, hasher, email=email or unique_email(), password=PASSWORD, full_name=full_name
        )
        login = Login(user_id=user.id)
        session.add(login)
        await session.commit()
        return Actor(user.id, user.email, tokens.issue(user_id=user.id, login_id=login.id))


async def make_org(
    app: FastAPI, *, owner: Actor, name: str = "Acme", currency: str = "USD"
) -> uuid.UUID:
    database: Database = app.state.database
    async with database.sessions() as session:
        org = await orgs_service.create_org(
            session, owner_id=owner.user_id, name=name, currency=currency
        )
        await session.commit()
        return org.id


async def add_member(app: FastAPI, *, org_id: uuid.UUID, actor: Actor, role: Role) -> None:
    database: Database = app.state.database
    async with database.sessions() as session:
        org = await session.get_one(Org, org_id)
        await orgs_service.add_membership(session, org_id=org.id, user_id=actor.user_id, role=role)
        await session.commit()


async def make_world(app: FastAPI, *, currency: str = "USD") -> World:
    admin = await make_user(app, email=unique_email("admin"))
    org_id = await make_org(app, owner=admin, currency=currency)
    analyst = await make_user(app, email=unique_email("analyst"))
    viewer = await make_user(app, email=unique_email("viewer"))
    await add_member(app, org_id=org_id, actor=analyst, role=Role.ANALYST)
    await add_member(app, org_id=org_id, actor=viewer, role=Role.VIEWER)
    outsider = await make_user(app, email=unique_email("outsider"))
    outsider_org_id = await make_org(app, owner=outsider, name="Elsewhere")
    return World(
        org_id=org_id,
        admin=admin,
        analyst=analyst,
        viewer=viewer,
        outsider=outsider,
        outsider_org_id=outsider_org_id,
        by_role={Role.ADMIN: admin, Role.ANALYST: analyst, Role.VIEWER: viewer},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert isinstance(body["detail"], str)
    return body


def error_fields(response: httpx.Response) -> set[str]:
    """The fields a 422 problem names."""
    body = problem(response, 422)
    return {error["field"] for error in body["errors"]}


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, Any]:
    """Log in through the API; the token pair."""
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def audit_entries(app: FastAPI, org_id: uuid.UUID) -> list[AuditEntry]:
    """The org's audit log straight from the database, oldest first."""
    database: Database = app.state.database
    async with database.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.org_id == org_id)
            .order_by(AuditEntry.at, AuditEntry.id)
        )
        return list(rows)
