"""Methods: every path answers a method it lacks with 405 and an ``Allow`` header naming exactly
its methods, and ``HEAD`` wherever ``GET``, with the same status and headers and no body."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.app import create_app
from tests.conftest import make_settings
from tests.factories import World, problem
from tests.records.helpers import create_record

OPENAPI: dict[str, Any] = create_app(make_settings("sqlite://")).openapi()
PROBED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
UNDOCUMENTED_PATHS = {
    "/docs": {"GET"},
    "/redoc": {"GET"},
    "/api/v1/openapi.json": {"GET"},
}


def _documented_paths() -> dict[str, set[str]]:
    paths = {
        path: {method.upper() for method in operations}
        for path, operations in OPENAPI["paths"].items()
    }
    return {**paths, **UNDOCUMENTED_PATHS}


PATHS = _documented_paths()


def allow_header(methods: set[str]) -> str:
    return ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))


def root_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def root(app: FastAPI) -> Any:
    async with root_client(app) as http:
        yield http


@pytest.fixture
async def path_values(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    record = await create_record(client, org_id=world.org_id, actor=world.admin)
    return {
        "org_id": str(world.org_id),
        "record_id": str(record["id"]),
        "user_id": str(world.analyst.user_id),
        "job_id": str(uuid.uuid4()),
        "account_id": str(record["account_id"]),
        "transfer_id": str(uuid.uuid4()),
        "profile_id": str(uuid.uuid4()),
        "rule_id": str(uuid.uuid4()),
    }


class TestMethodNotAllowed:
    @pytest.mark.parametrize("path", list(PATHS))
    async def test_every_missing_method_is_a_405_with_the_paths_exact_methods(
        self, root: httpx.AsyncClient, world: World, path_values: dict[str, str], path: str
    ) -> None:
        url = path.format(**path_values)
        expected = allow_header(PATHS[path])
        for method in PROBED_METHODS:
            if method in expected.split(", "):
                continue
            response = await root.request(method, url, headers=world.admin.headers)
            assert response.status_code == 405, (method, path, response.text)
            assert response.headers["allow"] == expected, (method, path)
            if method != "HEAD":
                problem(response, 405)

    @pytest.mark.parametrize(("path", "methods"), [("export", "GET, HEAD"), ("import", "POST")])
    @pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT"])
    async def test_record_sub_resources_are_not_taken_for_a_record_id(
        self, client: httpx.AsyncClient, world: World, path: str, methods: str, method: str
    ) -> None:
        response = await client.request(
            method,
            f"/orgs/{world.org_id}/records/{path}",
            json={"amount": "1.00"},
            headers=world.admin.headers,
        )
        problem(response, 405)
        assert response.headers["allow"] == methods

    async def test_a_path_with_no_uuid_where_one_belongs_is_a_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        for path in (
            "/orgs/not-an-id",
            f"/orgs/{world.org_id}/records/not-an-id",
            f"/orgs/{world.org_id}/members/not-an-id",
        ):
            problem(await client.get(path, headers=world.admin.headers), 404)

    async def test_any_case_of_a_uuid_is_the_same_resource(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        upper = str(world.org_id).upper()
        assert (await client.get(f"/orgs/{upper}", headers=world.admin.headers)).status_code == 200
        unknown = str(uuid.uuid4()).upper()
        problem(await client.get(f"/orgs/{unknown}", headers=world.admin.headers), 404)


class TestHead:
    @pytest.mark.parametrize("path", [path for path, methods in PATHS.items() if "GET" in methods])
    async def test_head_answers_what_get_does_without_the_body(
        self, root: httpx.AsyncClient, world: World, path_values: dict[str, str], path: str
    ) -> None:
        url = path.format(**path_values)
        got = await root.get(url, headers=world.admin.headers)
        head = await root.head(url, headers=world.admin.headers)
        assert head.status_code == got.status_code, path
        assert head.content == b""
        assert head.headers.get("content-type") == got.headers.get("content-type")
        if "content-length" in got.headers and path != "/metrics":  # counts this request
            assert head.headers["content-length"] == got.headers["content-length"]

    async def test_head_of_a_record_carries_its_etag(
        self, client: httpx.AsyncClient, world: World, path_values: dict[str, str]
    ) -> None:
        url = f"/orgs/{world.org_id}/records/{path_values['record_id']}"
        head = await client.head(url, headers=world.admin.headers)
        assert head.status_code == 200
        assert head.headers["etag"] == '"1"'

    async def test_head_without_credentials_is_a_401_like_get(
        self, client: httpx.AsyncClient
    ) -> None:
        head = await client.head("/users/me")
        assert head.status_code == 401
        assert head.headers["www-authenticate"] == "Bearer"
