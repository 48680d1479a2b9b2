"""The web app's pages against the permission table, as tests/test_authorization_matrix.py does
for the API: every page route has a line here, its guard asks for that permission, and every
caller gets what its role allows (sign-in page, 404 page, 403 page, or the page)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from ledgerline.app import create_app
from ledgerline.core.db import Database
from ledgerline.imports_exports.models import ImportJob, JobStatus
from ledgerline.orgs.permissions import ROLE_PERMISSIONS, Permission, Role
from ledgerline.web.dependencies import WebOrgGuard, get_web_caller
from ledgerline.web.errors import WebRoute
from tests.conftest import api_client, make_settings
from tests.factories import World
from tests.web.helpers import csrf_of, signed_in, token_for, web_client


class Open(enum.Enum):
    PUBLIC = "anyone"
    SIGNED_IN = "any signed-in person"


PUBLIC, SIGNED_IN = Open.PUBLIC, Open.SIGNED_IN
ORG = "/orgs/{org_id}"
RECORD = f"{ORG}/records/{{record_id}}"
ACCOUNT = f"{ORG}/accounts/{{account_id}}"

EXPECTED: dict[tuple[str, str], Open | Permission] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/register"): PUBLIC,
    ("POST", "/register"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/orgs"): SIGNED_IN,
    ("POST", "/orgs"): SIGNED_IN,
    ("GET", "/profile"): SIGNED_IN,
    ("POST", "/profile"): SIGNED_IN,
    ("GET", ORG): Permission.ORG_READ,
    ("GET", f"{ORG}/dashboard"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/records"): Permission.RECORDS_READ,
    ("GET", f"{ORG}/records/export"): Permission.RECORDS_EXPORT,
    ("GET", f"{ORG}/records/new"): Permission.RECORDS_WRITE,
    ("POST", f"{ORG}/records/new"): Permission.RECORDS_WRITE,
    ("GET", f"{RECORD}/edit"): Permission.RECORDS_WRITE,
    ("POST", f"{RECORD}/edit"): Permission.RECORDS_WRITE,
    ("POST", f"{RECORD}/delete"): Permission.RECORDS_DELETE,
    ("POST", f"{RECORD}/restore"): Permission.RECORDS_DELETE,
    ("GET", f"{ORG}/trash"): Permission.RECORDS_DELETE,
    ("GET", f"{ORG}/import"): Permission.RECORDS_IMPORT,
    ("POST", f"{ORG}/import"): Permission.RECORDS_IMPORT,
    ("POST", f"{ORG}/import/confirm"): Permission.RECORDS_IMPORT,
    ("POST", f"{ORG}/import/statement"): Permission.STATEMENTS_IMPORT,
    ("POST", f"{ORG}/import/statement/confirm"): Permission.STATEMENTS_IMPORT,
    ("GET", f"{ORG}/import/jobs/{{job_id}}"): Permission.RECORDS_IMPORT,
    ("POST", f"{ORG}/import/jobs/{{job_id}}/cancel"): Permission.RECORDS_IMPORT,
    ("GET", f"{ORG}/accounts"): Permission.ACCOUNTS_READ,
    ("POST", f"{ORG}/accounts"): Permission.ACCOUNTS_MANAGE,
    ("POST", f"{ACCOUNT}/rename"): Permission.ACCOUNTS_MANAGE,
    ("POST", f"{ACCOUNT}/archive"): Permission.ACCOUNTS_MANAGE,
    ("POST", f"{ACCOUNT}/delete"): Permission.ACCOUNTS_MANAGE,
    ("POST", f"{ORG}/transfers"): Permission.TRANSFERS_WRITE,
    ("POST", f"{ORG}/reconcile"): Permission.ACCOUNTS_RECONCILE,
    ("GET", f"{ORG}/members"): Permission.MEMBERS_MANAGE,
    ("POST", f"{ORG}/members"): Permission.MEMBERS_MANAGE,
    ("POST", f"{ORG}/members/{{user_id}}"): Permission.MEMBERS_MANAGE,
    ("POST", f"{ORG}/members/{{user_id}}/remove"): Permission.MEMBERS_MANAGE,
    ("GET", f"{ORG}/audit"): Permission.AUDIT_READ,
}


ANSWERS_WITH_THE_SIGN_IN_PAGE = {("GET", "/"), ("POST", "/logout")}
"""Routes whose own answer is the sign-in page: home for a stranger, and signing out."""


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _page_routes() -> list[tuple[str, str, WebRoute]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    return [
        (method, context.path_format or "", context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, WebRoute)
        for method in sorted(context.methods or ())
    ]


ROUTES = _page_routes()
PARAMS = [pytest.param(m, p, r, id=f"{m} {p}") for m, p, r in ROUTES]


def test_every_page_route_has_a_line_and_every_line_a_route() -> None:
    assert {(m, p) for m, p, _r in ROUTES} == set(EXPECTED)


@pytest.mark.parametrize(("method", "path", "route"), PARAMS)
def test_the_guard_asks_for_the_expected_permission(
    method: str, path: str, route: WebRoute
) -> None:
    expected = EXPECTED[(method, path)]
    calls = list(_calls(route.dependant))
    guarded = {call.permission for call in calls if isinstance(call, WebOrgGuard)}
    if isinstance(expected, Permission):
        assert guarded == {expected}
    else:
        assert guarded == set()
        assert (get_web_caller in calls) == (expected is SIGNED_IN)


async def _records(app: FastAPI, world: World) -> tuple[str, str, str]:
    """A live record and a deleted one, and the account holding them."""
    ids = []
    async with api_client(app) as api:
        for notes in ("live", "deleted"):
            response = await api.post(
                f"/orgs/{world.org_id}/records",
                json={"amount": "5", "type": "expense", "category": "X", "date": "2026-01-02"},
                headers=world.admin.headers,
            )
            assert response.status_code == 201, notes
            ids.append(response.json()["id"])
        deleted = await api.delete(
            f"/orgs/{world.org_id}/records/{ids[1]}", headers=world.admin.headers
        )
        assert deleted.status_code == 204
        live = await api.get(f"/orgs/{world.org_id}/records/{ids[0]}", headers=world.admin.headers)
    return ids[0], ids[1], live.json()["account_id"]


async def _job(app: FastAPI, world: World) -> uuid.UUID:
    """An analyst's import job not yet started: its importer and the admins may see it."""
    database: Database = app.state.database
    async with database.sessions() as session:
        job = ImportJob(
            org_id=world.org_id,
            created_by=world.analyst.user_id,
            status=JobStatus.QUEUED.value,
            rows_total=3,
        )
        session.add(job)
        await session.commit()
        return job.id


def _fill(path: str, world: World, live: str, deleted: str, account: str, job: uuid.UUID) -> str:
    record = deleted if path.endswith("/restore") else live
    return path.format(
        org_id=world.org_id,
        record_id=record,
        user_id=world.viewer.user_id,
        job_id=job,
        account_id=account,
    )


def _allowed(expected: Open | Permission, role: Role | None) -> bool:
    if expected is PUBLIC:
        return True
    if role is None:
        return False
    return expected is SIGNED_IN or expected in ROLE_PERMISSIONS[role]


UPLOADS = frozenset({("POST", f"{ORG}/import"), ("POST", f"{ORG}/import/statement")})
"""Page routes whose form carries a file: they read only multipart/form-data (415 otherwise)."""


def _form(method: str, path: str, token: str) -> dict[str, Any]:
    """A form with just the CSRF token, in the media type the route reads."""
    if method != "POST":
        return {}
    if (method, path) in UPLOADS:
        return {"data": {"csrf_token": token}, "files": {"file": ("empty.csv", b"")}}
    return {"data": {"csrf_token": token}}


@pytest.mark.parametrize(("method", "path", "route"), PARAMS)
async def test_each_caller_gets_what_its_role_allows(
    app: FastAPI, world: World, method: str, path: str, route: WebRoute
) -> None:
    expected = EXPECTED[(method, path)]
    live, deleted, account = await _records(app, world)
    url = _fill(path, world, live, deleted, account, await _job(app, world))
    callers: list[tuple[str, str | None, Role | None]] = [
        ("anonymous", None, None),
        ("outsider", world.outsider.email, None),
        ("viewer", world.viewer.email, Role.VIEWER),
        ("analyst", world.analyst.email, Role.ANALYST),
        ("admin", world.admin.email, Role.ADMIN),
    ]
    failures = []
    for name, email, role in callers:
        if email is None:
            async with web_client(app) as client:
                token = await token_for(client)
                response = await client.request(method, url, **_form(method, path, token))
        else:
            async with signed_in(app, email) as client:
                token = csrf_of(await client.get("/profile"))
                response = await client.request(method, url, **_form(method, path, token))
        status = response.status_code
        location = response.headers.get("location", "")
        to_sign_in = status == 303 and location.partition("?")[0] == "/login"
        if (method, path) in ANSWERS_WITH_THE_SIGN_IN_PAGE:
            to_sign_in = to_sign_in and name == "anonymous" and expected is not PUBLIC
        if name == "outsider" and isinstance(expected, Permission):
            ok = status == 404
        elif _allowed(expected, role) or (name == "outsider" and expected is SIGNED_IN):
            ok = status not in (403, 404) and not to_sign_in and status < 500
        elif role is None:
            ok = to_sign_in
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{name}: {status} {response.headers.get('location', '')}")
    assert not failures, failures


async def test_an_unknown_record_is_the_not_found_page(app: FastAPI, world: World) -> None:
    async with signed_in(app, world.analyst.email) as client:
        page = await client.get(f"/orgs/{world.org_id}/records/{uuid.uuid4()}/edit")
        assert page.status_code == 404
        assert "text/html" in page.headers["content-type"]
