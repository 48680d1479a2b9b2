"""The generated authorization test: every route of the app against the spec's permission matrix.

Every route needs one line in ``EXPECTED``: a route added without one fails here, and so does a
line for a route that no longer exists. Each route's org guard must ask for the permission its
line names, and every caller (anonymous, outsider, viewer, analyst, admin) must get what the
role table of the spec gives them: 401, 404 (not a member), 403 (member without the permission)
or, when allowed, an answer that is none of those.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from ledgerline.app import create_app
from ledgerline.auth.dependencies import bearer_scheme, get_authenticated
from ledgerline.orgs.dependencies import OrgGuard
from ledgerline.orgs.permissions import ROLE_PERMISSIONS, Permission, Role
from ledgerline.web.errors import WebRoute
from tests.conftest import make_settings
from tests.factories import World

ORG_NOT_FOUND = "organization not found"
API = "/api/v1"
ORG = f"{API}/orgs/{{org_id}}"


class Open(enum.Enum):
    PUBLIC = "anyone, signed in or not"
    AUTHENTICATED = "any signed-in user"


Access = Open | Permission
PUBLIC, AUTHENTICATED = Open.PUBLIC, Open.AUTHENTICATED

EXPECTED: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", f"{API}/auth/register"): PUBLIC,
    ("POST", f"{API}/auth/login"): PUBLIC,
    ("POST", f"{API}/auth/token"): PUBLIC,
    ("POST", f"{API}/auth/refresh"): PUBLIC,
    ("POST", f"{API}/auth/logout"): PUBLIC,
    ("GET", f"{API}/users/me"): AUTHENTICATED,
    ("PATCH", f"{API}/users/me"): AUTHENTICATED,
    ("GET", f"{API}/orgs"): AUTHENTICATED,
    ("POST", f"{API}/orgs"): AUTHENTICATED,
    ("GET", ORG): Permission.ORG_READ,
    ("PATCH", ORG): Permission.ORG_MANAGE,
    ("GET", f"{ORG}/members"): Permission.MEMBERS_MANAGE,
    ("POST", f"{ORG}/members"): Permission.MEMBERS_MANAGE,
    ("PATCH", f"{ORG}/members/{{user_id}}"): Permission.MEMBERS_MANAGE,
    ("DELETE", f"{ORG}/members/{{user_id}}"): Permission.MEMBERS_MANAGE,
    ("GET", f"{ORG}/records"): Permission.RECORDS_READ,
    ("POST", f"{ORG}/records"): Permission.RECORDS_WRITE,
    ("GET", f"{ORG}/records/{{record_id}}"): Permission.RECORDS_READ,
    ("PATCH", f"{ORG}/records/{{record_id}}"): Permission.RECORDS_WRITE,
    ("DELETE", f"{ORG}/records/{{record_id}}"): Permission.RECORDS_DELETE,
    ("POST", f"{ORG}/records/{{record_id}}/restore"): Permission.RECORDS_DELETE,
    ("POST", f"{ORG}/records/import"): Permission.RECORDS_IMPORT,
    ("GET", f"{ORG}/records/export"): Permission.RECORDS_EXPORT,
    ("GET", f"{ORG}/import-jobs/{{job_id}}"): Permission.RECORDS_IMPORT,
    ("DELETE", f"{ORG}/import-jobs/{{job_id}}"): Permission.RECORDS_IMPORT,
    ("GET", f"{ORG}/categories"): Permission.RECORDS_READ,
    ("GET", f"{ORG}/dashboard/summary"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/dashboard/categories"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/dashboard/trends"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/dashboard/recent"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/dashboard/insights"): Permission.INSIGHTS_READ,
    ("GET", f"{ORG}/dashboard/balances"): Permission.DASHBOARD_READ,
    ("GET", f"{ORG}/audit"): Permission.AUDIT_READ,
    ("GET", f"{ORG}/accounts"): Permission.ACCOUNTS_READ,
    ("POST", f"{ORG}/accounts"): Permission.ACCOUNTS_MANAGE,
    ("GET", f"{ORG}/accounts/{{account_id}}"): Permission.ACCOUNTS_READ,
    ("PATCH", f"{ORG}/accounts/{{account_id}}"): Permission.ACCOUNTS_MANAGE,
    ("DELETE", f"{ORG}/accounts/{{account_id}}"): Permission.ACCOUNTS_MANAGE,
    ("GET", f"{ORG}/accounts/{{account_id}}/balances"): Permission.ACCOUNTS_READ,
    ("POST", f"{ORG}/accounts/{{account_id}}/reconcile"): Permission.ACCOUNTS_RECONCILE,
    ("POST", f"{ORG}/accounts/{{account_id}}/statements"): Permission.STATEMENTS_IMPORT,
    ("POST", f"{ORG}/transfers"): Permission.TRANSFERS_WRITE,
    ("GET", f"{ORG}/transfers/{{transfer_id}}"): Permission.ACCOUNTS_READ,
    ("PATCH", f"{ORG}/transfers/{{transfer_id}}"): Permission.TRANSFERS_WRITE,
    ("DELETE", f"{ORG}/transfers/{{transfer_id}}"): Permission.TRANSFERS_DELETE,
    ("POST", f"{ORG}/transfers/{{transfer_id}}/restore"): Permission.TRANSFERS_DELETE,
    ("GET", f"{ORG}/import-profiles"): Permission.IMPORT_SETTINGS_MANAGE,
    ("POST", f"{ORG}/import-profiles"): Permission.IMPORT_SETTINGS_MANAGE,
    ("POST", f"{ORG}/import-profiles/suggest"): Permission.IMPORT_SETTINGS_MANAGE,
    ("GET", f"{ORG}/import-profiles/{{profile_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
    ("PATCH", f"{ORG}/import-profiles/{{profile_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
    ("DELETE", f"{ORG}/import-profiles/{{profile_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
    ("GET", f"{ORG}/category-rules"): Permission.IMPORT_SETTINGS_MANAGE,
    ("POST", f"{ORG}/category-rules"): Permission.IMPORT_SETTINGS_MANAGE,
    ("GET", f"{ORG}/category-rules/{{rule_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
    ("PATCH", f"{ORG}/category-rules/{{rule_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
    ("DELETE", f"{ORG}/category-rules/{{rule_id}}"): Permission.IMPORT_SETTINGS_MANAGE,
}

_EVERYONE = frozenset(Role)
_ANALYSTS = frozenset({Role.ANALYST, Role.ADMIN})
_ADMINS = frozenset({Role.ADMIN})

ALLOWED_ROLES: dict[Permission, frozenset[Role]] = {
    # The permission matrix of spec/api.md, row by row, written out independently of the code.
    Permission.ORG_READ: _EVERYONE,
    Permission.RECORDS_READ: _EVERYONE,
    Permission.DASHBOARD_READ: _EVERYONE,
    Permission.INSIGHTS_READ: _ANALYSTS,
    Permission.RECORDS_WRITE: _ANALYSTS,
    Permission.RECORDS_IMPORT: _ANALYSTS,
    Permission.RECORDS_EXPORT: _ANALYSTS,
    Permission.RECORDS_DELETE: _ADMINS,
    Permission.AUDIT_READ: _ADMINS,
    Permission.MEMBERS_MANAGE: _ADMINS,
    Permission.ORG_MANAGE: _ADMINS,
    Permission.IMPORT_JOBS_MANAGE: _ADMINS,
    Permission.ACCOUNTS_READ: _EVERYONE,
    Permission.ACCOUNTS_MANAGE: _ADMINS,
    Permission.TRANSFERS_WRITE: _ANALYSTS,
    Permission.TRANSFERS_DELETE: _ADMINS,
    Permission.ACCOUNTS_RECONCILE: _ANALYSTS,
    Permission.STATEMENTS_IMPORT: _ANALYSTS,
    Permission.IMPORT_SETTINGS_MANAGE: _ANALYSTS,
}

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    route: APIRoute

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every API route, with its full path through the routers including it.

    The web app's pages have a matrix of their own (tests/web/test_web_authorization.py)."""
    found = [
        Endpoint(method, context.path_format or "", context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and not isinstance(context.original_route, WebRoute)
        for method in sorted(context.methods or ())
    ]
    assert all(endpoint.path.startswith("/") for endpoint in found)
    return found


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)


def guarded_permissions(endpoint: Endpoint) -> set[Permission]:
    return {
        call.permission
        for call in _dependency_calls(endpoint.route.dependant)
        if isinstance(call, OrgGuard)
    }


def requires_sign_in(endpoint: Endpoint) -> bool:
    """The route reads the bearer token and authenticates it: through ``get_authenticated``
    and the bearer scheme, or through an ``OrgGuard``, which is the scheme (it reads the token)
    and reads the login together with the membership."""
    calls = list(_dependency_calls(endpoint.route.dependant))
    if any(isinstance(call, OrgGuard) for call in calls):
        return True
    return bearer_scheme in calls and get_authenticated in calls


# Routes are read from an app built at collection time, so each test is named for its route.
_COLLECTED = create_app(make_settings("sqlite:///:memory:"))
ROUTES = endpoints(_COLLECTED)
OPENAPI = _COLLECTED.openapi()
ROUTE_PARAMS = [pytest.param(endpoint, id=str(endpoint)) for endpoint in ROUTES]


class TestTheTable:
    def test_every_route_has_an_expectation(self) -> None:
        missing = sorted(str(e) for e in ROUTES if e.key not in EXPECTED)
        assert not missing, f"add these routes to EXPECTED: {missing}"

    def test_every_expectation_names_a_route(self) -> None:
        routes = {endpoint.key for endpoint in ROUTES}
        stale = sorted(
            f"{method} {path}" for method, path in EXPECTED if (method, path) not in routes
        )
        assert not stale, f"EXPECTED names routes the app does not have: {stale}"

    def test_collection_saw_the_same_routes_as_a_started_app(self, app: FastAPI) -> None:
        assert sorted(e.key for e in endpoints(app)) == sorted(e.key for e in ROUTES)

    def test_every_permission_has_a_row_of_the_spec_matrix(self) -> None:
        assert set(ALLOWED_ROLES) == set(Permission)

    def test_role_permissions_of_the_code_match_the_spec_matrix(self) -> None:
        from_spec = {
            role: {p for p, roles in ALLOWED_ROLES.items() if role in roles} for role in Role
        }
        assert {role: set(perms) for role, perms in ROLE_PERMISSIONS.items()} == from_spec


@pytest.mark.parametrize("endpoint", ROUTE_PARAMS)
class TestRoute:
    def test_guard_asks_for_the_expected_permission(self, endpoint: Endpoint) -> None:
        expected = EXPECTED.get(endpoint.key)
        assert expected is not None, f"{endpoint} has no line in EXPECTED"
        guarded = guarded_permissions(endpoint)
        if isinstance(expected, Permission):
            assert guarded == {expected}
            assert requires_sign_in(endpoint)
        else:
            assert guarded == set()
            assert requires_sign_in(endpoint) == (expected is AUTHENTICATED)

    def test_openapi_declares_what_access_and_body_checks_can_answer(
        self, endpoint: Endpoint
    ) -> None:
        expected = EXPECTED.get(endpoint.key)
        assert expected is not None, f"{endpoint} has no line in EXPECTED"
        needed: set[str] = set()
        if expected is not PUBLIC:
            needed |= {"401", "429"}
        if isinstance(expected, Permission):
            needed.add("404")
            if ALLOWED_ROLES[expected] != _EVERYONE:
                needed.add("403")
        body = endpoint.route.body_field
        if body is not None:
            needed |= {"413", "422"}
            if not isinstance(body.field_info, params.Form):
                needed |= {"400", "415"}
        operation = OPENAPI["paths"][endpoint.path][endpoint.method.lower()]
        assert needed <= set(operation["responses"])

    def test_openapi_declares_the_bearer_scheme_where_sign_in_is_required(
        self, endpoint: Endpoint
    ) -> None:
        operation = OPENAPI["paths"][endpoint.path][endpoint.method.lower()]
        declared = operation.get("security", [])
        if requires_sign_in(endpoint):
            assert declared == [{bearer_scheme.scheme_name: []}]
            scheme = OPENAPI["components"]["securitySchemes"][bearer_scheme.scheme_name]
            assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
        else:
            assert declared == []

    async def test_each_caller_gets_what_the_matrix_allows(
        self, app: FastAPI, world: World, endpoint: Endpoint
    ) -> None:
        expected = EXPECTED.get(endpoint.key)
        assert expected is not None, f"{endpoint} has no line in EXPECTED"
        callers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "outsider": world.outsider.headers,
            **{role.value: world.by_role[role].headers for role in Role},
        }
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        failures: list[str] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for caller, headers in callers.items():
                response = await client.request(
                    endpoint.method,
                    fill_path(endpoint, world),
                    headers=headers,
                    **request_body(endpoint),
                )
                problem = judge(expected, caller, response)
                if problem:
                    failures.append(
                        f"{caller}: {problem} (got {response.status_code}: {response.text[:200]})"
                    )
        assert not failures, f"{endpoint}:\n" + "\n".join(failures)


def request_body(endpoint: Endpoint) -> dict[str, Any]:
    """An empty body in the media type the route reads: a file upload for routes with a file
    part, JSON otherwise, so access is judged rather than the body's media type (415)."""
    if endpoint.method not in BODY_METHODS:
        return {}
    if any(isinstance(p.field_info, params.File) for p in endpoint.route.dependant.body_params):
        return {"files": {"file": ("empty.csv", b"")}}
    return {"json": {}}


def fill_path(endpoint: Endpoint, world: World) -> str:
    values = {param.name: str(uuid.uuid4()) for param in endpoint.route.dependant.path_params}
    values["org_id"] = str(world.org_id)
    return endpoint.path.format(**values)


def _detail(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    detail = response.json().get("detail")
    return detail if isinstance(detail, str) else None


def _allowed(response: httpx.Response) -> str | None:
    if response.status_code in (401, 403):
        return "should be let in"
    if response.status_code == 404 and _detail(response) == ORG_NOT_FOUND:
        return "should see the org"
    if response.status_code >= 500:
        return "should not fail"
    return None


def judge(expected: Access, caller: str, response: httpx.Response) -> str | None:
    """Why ``response`` is wrong for ``caller`` under ``expected``, or None when it is right."""
    if expected is PUBLIC:
        return _allowed(response)
    if caller == "anonymous":
        if response.status_code != 401 or response.headers.get("www-authenticate") != "Bearer":
            return "should be 401 with WWW-Authenticate: Bearer"
        return None
    if expected is AUTHENTICATED:
        return _allowed(response)
    assert isinstance(expected, Permission)
    if caller == "outsider":
        if response.status_code != 404 or _detail(response) != ORG_NOT_FOUND:
            return f"should be 404 {ORG_NOT_FOUND!r}"
        return None
    if Role(caller) in ALLOWED_ROLES[expected]:
        return _allowed(response)
    if response.status_code != 403:
        return "should be 403"
    return None
