"""The caller's own account: GET and PATCH /users/me."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import PASSWORD, World, error_fields, make_user


class TestReadMe:
    async def test_answers_the_account_and_every_membership(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get("/users/me", headers=world.analyst.headers)
        assert response.status_code == 200
        me = response.json()
        assert set(me) == {"id", "email", "full_name", "created_at", "memberships"}
        assert me["id"] == str(world.analyst.user_id)
        assert me["email"] == world.analyst.email
        assert me["memberships"] == [
            {"org_id": str(world.org_id), "org_name": "Acme", "role": "analyst", "is_active": True}
        ]

    async def test_inactive_memberships_are_listed_as_inactive(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        deactivated = await client.patch(
            f"/orgs/{world.org_id}/members/{world.viewer.user_id}",
            headers=world.admin.headers,
            json={"is_active": False},
        )
        assert deactivated.status_code == 200
        me = (await client.get("/users/me", headers=world.viewer.headers)).json()
        assert [(m["org_id"], m["is_active"]) for m in me["memberships"]] == [
            (str(world.org_id), False)
        ]

    async def test_user_without_orgs_has_no_memberships(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        loner = await make_user(app)
        me = (await client.get("/users/me", headers=loner.headers)).json()
        assert me["memberships"] == []


class TestUpdateMe:
    async def test_full_name_changes_with_the_current_password(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app, full_name="Before")
        response = await client.patch(
            "/users/me",
            headers=me.headers,
            json={"full_name": "  Grace Hopper ", "current_password": PASSWORD},
        )
        assert response.status_code == 200, response.text
        assert response.json()["full_name"] == "Grace Hopper"
        again = await client.get("/users/me", headers=me.headers)
        assert again.json()["full_name"] == "Grace Hopper"

    async def test_full_name_change_needs_the_current_password(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app, full_name="Before")
        response = await client.patch(
            "/users/me",
            headers=me.headers,
            json={"full_name": "After", "current_password": "not-" + PASSWORD},
        )
        assert error_fields(response) == {"current_password"}
        assert (await client.get("/users/me", headers=me.headers)).json()["full_name"] == "Before"

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"full_name": "Bad\x00Name"}, id="control-character"),
            pytest.param({"full_name": ""}, id="empty-name"),
            pytest.param({"full_name": " \t "}, id="blank-name"),
            pytest.param({"email": "new@example.com"}, id="email-is-not-editable"),
            pytest.param({"id": "00000000-0000-0000-0000-000000000000"}, id="id"),
        ],
    )
    async def test_invalid_change_is_rejected_naming_the_field(
        self, client: httpx.AsyncClient, app: FastAPI, changes: dict[str, str]
    ) -> None:
        me = await make_user(app)
        response = await client.patch(
            "/users/me", headers=me.headers, json={**changes, "current_password": PASSWORD}
        )
        assert error_fields(response) == set(changes)
