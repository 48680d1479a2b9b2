"""Organizations: create, list, read and rename, with the org's existence hidden from outsiders."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import World, audit_entries, error_fields, make_user, problem

ORG_NOT_FOUND = "organization not found"


class TestCreateOrg:
    async def test_creator_becomes_its_admin(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        founder = await make_user(app)
        response = await client.post("/orgs", headers=founder.headers, json={"name": " New Co "})
        assert response.status_code == 201, response.text
        org = response.json()
        assert set(org) == {"id", "name", "currency", "created_at"}
        assert org["name"] == "New Co"
        assert org["currency"] == "USD"
        members = await client.get(f"/orgs/{org['id']}/members", headers=founder.headers)
        assert [(m["user_id"], m["role"]) for m in members.json()] == [
            (str(founder.user_id), "admin")
        ]

    async def test_given_currency_is_kept(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        founder = await make_user(app)
        response = await client.post(
            "/orgs", headers=founder.headers, json={"name": "Tokyo", "currency": "JPY"}
        )
        assert response.status_code == 201
        assert response.json()["currency"] == "JPY"

    @pytest.mark.parametrize("currency", ["XYZ", "US", "dollars", ""])
    async def test_unknown_currency_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI, currency: str
    ) -> None:
        founder = await make_user(app)
        response = await client.post(
            "/orgs", headers=founder.headers, json={"name": "Nowhere", "currency": currency}
        )
        assert error_fields(response) == {"currency"}

    @pytest.mark.parametrize("name", ["", "   ", "Bad\x00Name", "x" * 201])
    async def test_invalid_name_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI, name: str
    ) -> None:
        founder = await make_user(app)
        response = await client.post("/orgs", headers=founder.headers, json={"name": name})
        assert error_fields(response) == {"name"}

    async def test_unknown_field_is_rejected(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        founder = await make_user(app)
        response = await client.post(
            "/orgs", headers=founder.headers, json={"name": "Co", "is_default": True}
        )
        assert error_fields(response) == {"is_default"}


class TestListOrgs:
    async def test_lists_active_memberships_with_the_callers_role(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get("/orgs", headers=world.viewer.headers)
        assert response.status_code == 200
        assert [(o["id"], o["name"], o["role"]) for o in response.json()] == [
            (str(world.org_id), "Acme", "viewer")
        ]
        outsider = (await client.get("/orgs", headers=world.outsider.headers)).json()
        assert [o["id"] for o in outsider] == [str(world.outsider_org_id)]

    async def test_deactivated_membership_is_not_listed(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await client.patch(
            f"/orgs/{world.org_id}/members/{world.viewer.user_id}",
            headers=world.admin.headers,
            json={"is_active": False},
        )
        assert (await client.get("/orgs", headers=world.viewer.headers)).json() == []


class TestGetOrg:
    async def test_member_reads_the_org(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.get(f"/orgs/{world.org_id}", headers=world.viewer.headers)
        assert response.status_code == 200
        assert response.json()["id"] == str(world.org_id)
        assert response.json()["name"] == "Acme"

    async def test_outsider_cannot_tell_the_org_exists(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        existing = await client.get(f"/orgs/{world.org_id}", headers=world.outsider.headers)
        missing = await client.get(f"/orgs/{uuid.uuid4()}", headers=world.outsider.headers)
        assert problem(existing, 404)["detail"] == ORG_NOT_FOUND
        assert existing.json() == missing.json()

    async def test_malformed_org_id_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get("/orgs/not-a-uuid", headers=world.viewer.headers)
        problem(response, 404)


class TestRenameOrg:
    async def test_admin_renames_and_the_change_is_audited(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await client.patch(
            f"/orgs/{world.org_id}", headers=world.admin.headers, json={"name": "Acme Ltd"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Acme Ltd"
        read = await client.get(f"/orgs/{world.org_id}", headers=world.viewer.headers)
        assert read.json()["name"] == "Acme Ltd"
        [entry] = await audit_entries(app, world.org_id)
        assert entry.action == "org.updated"
        assert entry.entity_type == "org"
        assert entry.entity_id == str(world.org_id)
        assert entry.actor_id == world.admin.user_id
        assert entry.changes == {"name": ["Acme", "Acme Ltd"]}
        assert entry.request_id == response.headers["x-request-id"]

    async def test_same_name_writes_no_audit_entry(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await client.patch(
            f"/orgs/{world.org_id}", headers=world.admin.headers, json={"name": "Acme"}
        )
        assert response.status_code == 200
        assert await audit_entries(app, world.org_id) == []

    @pytest.mark.parametrize("role", ["analyst", "viewer"])
    async def test_non_admin_is_forbidden(
        self, client: httpx.AsyncClient, app: FastAPI, world: World, role: str
    ) -> None:
        caller = world.analyst if role == "analyst" else world.viewer
        response = await client.patch(
            f"/orgs/{world.org_id}", headers=caller.headers, json={"name": "Mine now"}
        )
        problem(response, 403)
        assert await audit_entries(app, world.org_id) == []

    async def test_outsider_gets_not_found(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.patch(
            f"/orgs/{world.org_id}", headers=world.outsider.headers, json={"name": "Mine now"}
        )
        assert problem(response, 404)["detail"] == ORG_NOT_FOUND

    async def test_currency_cannot_be_changed(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.patch(
            f"/orgs/{world.org_id}",
            headers=world.admin.headers,
            json={"name": "Acme", "currency": "EUR"},
        )
        assert error_fields(response) == {"currency"}
