"""``X-Content-Type-Options: nosniff`` on every response; ``Cache-Control: no-store`` on tokens
and private data, and ``private, no-cache`` with the ETag on a single record."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory, api_client
from tests.factories import PASSWORD, World
from tests.records.helpers import create_record, records_url


def root_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def assert_protected(response: httpx.Response, cache_control: str = "no-store") -> None:
    label = f"{response.request.method} {response.request.url.path} {response.status_code}"
    assert response.headers.get("x-content-type-options") == "nosniff", label
    assert response.headers.get("cache-control") == cache_control, label


class TestEveryResponse:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/healthz"),
            ("GET", "/readyz"),
            ("GET", "/metrics"),
            ("GET", "/docs"),
            ("GET", "/redoc"),
            ("GET", "/api/v1/openapi.json"),
            ("GET", "/no/such/thing"),
            ("DELETE", "/api/v1/users/me"),
            ("HEAD", "/healthz"),
            ("GET", "/api/v1/users/me"),
        ],
    )
    async def test_operations_docs_and_errors(self, app: FastAPI, method: str, path: str) -> None:
        async with root_client(app) as root:
            assert_protected(await root.request(method, path))

    async def test_validation_and_malformed_bodies(self, client: httpx.AsyncClient) -> None:
        assert_protected(await client.post("/auth/register", json={}))
        assert_protected(
            await client.post(
                "/auth/login", content="{", headers={"Content-Type": "application/json"}
            )
        )
        assert_protected(
            await client.post("/auth/login", content="x", headers={"Content-Type": "text/plain"})
        )

    async def test_a_500(self, app_factory: AppFactory) -> None:
        application = await app_factory()

        async def explode() -> None:
            raise RuntimeError("boom")

        application.router.add_api_route("/api/v1/explode", explode, methods=["GET"])
        async with api_client(application) as client:
            response = await client.get("/explode")
        assert response.status_code == 500
        assert_protected(response)


class TestTokensAndPrivateData:
    async def test_auth_answers(self, client: httpx.AsyncClient, world: World) -> None:
        registered = await client.post(
            "/auth/register",
            json={"email": "new@example.com", "password": PASSWORD, "full_name": "New"},
        )
        assert registered.status_code == 201
        assert_protected(registered)
        login = await client.post(
            "/auth/login", json={"email": "new@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200
        assert_protected(login)
        form = await client.post(
            "/auth/token", data={"username": "new@example.com", "password": PASSWORD}
        )
        assert form.status_code == 200
        assert_protected(form)
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert_protected(refreshed)
        assert_protected(
            await client.post("/auth/login", json={"email": "new@example.com", "password": "x"})
        )

    async def test_authenticated_answers(self, client: httpx.AsyncClient, world: World) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.admin)
        org = f"/orgs/{world.org_id}"
        paths: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/users/me", {}),
            ("GET", "/orgs", {}),
            ("GET", org, {}),
            ("GET", f"{org}/members", {}),
            ("GET", records_url(world.org_id), {}),
            ("GET", f"{org}/records/export", {}),
            ("GET", f"{org}/categories", {}),
            ("GET", f"{org}/dashboard/summary", {}),
            ("GET", f"{org}/dashboard/insights", {}),
            ("GET", f"{org}/audit", {}),
            ("PATCH", records_url(world.org_id, record["id"]), {"json": {"notes": "x"}}),
            ("POST", records_url(world.org_id), {"json": {"amount": "1"}}),
        ]
        for method, path, extra in paths:
            response = await client.request(method, path, headers=world.admin.headers, **extra)
            assert response.status_code < 500
            assert_protected(response)

    async def test_a_record_is_private_and_revalidated_with_its_etag(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.admin)
        url = records_url(world.org_id, record["id"])
        got = await client.get(url, headers=world.viewer.headers)
        assert_protected(got, "private, no-cache")
        assert got.headers["etag"] == '"1"'
        unchanged = await client.get(
            url, headers={**world.viewer.headers, "If-None-Match": got.headers["etag"]}
        )
        assert unchanged.status_code == 304
        assert_protected(unchanged, "private, no-cache")
