"""Members: add, change, deactivate, remove, each audited; an org always keeps an active admin."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actor,
    World,
    audit_entries,
    error_fields,
    make_user,
    problem,
)

ORG_NOT_FOUND = "organization not found"


def member_path(world: World, who: Actor | uuid.UUID) -> str:
    user_id = who.user_id if isinstance(who, Actor) else who
    return f"/orgs/{world.org_id}/members/{user_id}"


async def change_member(
    client: httpx.AsyncClient, world: World, who: Actor, **changes: Any
) -> httpx.Response:
    return await client.patch(member_path(world, who), headers=world.admin.headers, json=changes)


class TestMembers:
    async def test_admin_lists_members_with_roles(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        assert response.status_code == 200
        roles = {m["email"]: m["role"] for m in response.json()}
        assert roles == {
            world.admin.email: "admin",
            world.analyst.email: "analyst",
            world.viewer.email: "viewer",
        }

    async def test_each_member_has_the_contract_fields(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        for member in response.json():
            assert set(member) == {
                "user_id",
                "email",
                "full_name",
                "role",
                "is_active",
                "joined_at",
            }
            assert member["is_active"] is True


class TestAddMember:
    async def test_admin_adds_an_existing_user_and_it_is_audited(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        newcomer = await make_user(app, full_name="New Comer")
        response = await client.post(
            f"/orgs/{world.org_id}/members",
            headers=world.admin.headers,
            json={"email": newcomer.email.upper(), "role": "analyst"},
        )
        assert response.status_code == 201, response.text
        member = response.json()
        assert (member["user_id"], member["email"], member["role"], member["is_active"]) == (
            str(newcomer.user_id),
            newcomer.email,
            "analyst",
            True,
        )
        assert (await client.get(f"/orgs/{world.org_id}", headers=newcomer.headers)).is_success
        [entry] = await audit_entries(app, world.org_id)
        assert (entry.action, entry.entity_type, entry.entity_id) == (
            "member.added",
            "membership",
            str(newcomer.user_id),
        )
        assert entry.actor_id == world.admin.user_id
        assert entry.changes == {"role": [None, "analyst"], "is_active": [None, True]}
        assert entry.request_id == response.headers["x-request-id"]

    async def test_unknown_email_is_not_found(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await client.post(
            f"/orgs/{world.org_id}/members",
            headers=world.admin.headers,
            json={"email": "nobody-here@example.com", "role": "viewer"},
        )
        assert problem(response, 404)["detail"] != ORG_NOT_FOUND
        assert await audit_entries(app, world.org_id) == []

    @pytest.mark.parametrize("active", [True, False])
    async def test_existing_member_conflicts(
        self, client: httpx.AsyncClient, world: World, active: bool
    ) -> None:
        if not active:
            await change_member(client, world, world.viewer, is_active=False)
        response = await client.post(
            f"/orgs/{world.org_id}/members",
            headers=world.admin.headers,
            json={"email": world.viewer.email, "role": "admin"},
        )
        problem(response, 409)

    @pytest.mark.parametrize("role", ["owner", "ADMIN", ""])
    async def test_unknown_role_is_rejected(
        self, client: httpx.AsyncClient, app: FastAPI, world: World, role: str
    ) -> None:
        newcomer = await make_user(app)
        response = await client.post(
            f"/orgs/{world.org_id}/members",
            headers=world.admin.headers,
            json={"email": newcomer.email, "role": role},
        )
        assert error_fields(response) == {"role"}


class TestUpdateMember:
    async def test_role_change_is_audited(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await change_member(client, world, world.viewer, role="analyst")
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "analyst"
        [entry] = await audit_entries(app, world.org_id)
        assert (entry.action, entry.entity_id, entry.changes) == (
            "member.updated",
            str(world.viewer.user_id),
            {"role": ["viewer", "analyst"]},
        )

    async def test_deactivation_is_audited(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await change_member(client, world, world.analyst, is_active=False)
        assert response.json()["is_active"] is False
        [entry] = await audit_entries(app, world.org_id)
        assert entry.changes == {"is_active": [True, False]}

    async def test_promotion_applies_to_the_next_request_with_the_same_token(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        members = f"/orgs/{world.org_id}/members"
        problem(await client.get(members, headers=world.viewer.headers), 403)
        await change_member(client, world, world.viewer, role="analyst")
        orgs = (await client.get("/orgs", headers=world.viewer.headers)).json()
        assert [o["role"] for o in orgs] == ["analyst"]
        problem(await client.get(members, headers=world.viewer.headers), 403)
        await change_member(client, world, world.viewer, role="admin")
        assert (await client.get(members, headers=world.viewer.headers)).status_code == 200

    async def test_demotion_applies_to_the_next_request_with_the_same_token(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await change_member(client, world, world.analyst, role="admin")
        rename = {"name": "Renamed"}
        org = f"/orgs/{world.org_id}"
        assert (await client.patch(org, headers=world.analyst.headers, json=rename)).is_success
        await change_member(client, world, world.analyst, role="viewer")
        problem(await client.patch(org, headers=world.analyst.headers, json=rename), 403)

    async def test_deactivated_member_gets_not_found_until_reactivated(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        org = f"/orgs/{world.org_id}"
        assert (await client.get(org, headers=world.viewer.headers)).is_success
        await change_member(client, world, world.viewer, is_active=False)
        assert problem(await client.get(org, headers=world.viewer.headers), 404)["detail"] == (
            ORG_NOT_FOUND
        )
        await change_member(client, world, world.viewer, is_active=True)
        assert (await client.get(org, headers=world.viewer.headers)).is_success

    async def test_unknown_member_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.patch(
            member_path(world, uuid.uuid4()), headers=world.admin.headers, json={"role": "viewer"}
        )
        assert problem(response, 404)["detail"] != ORG_NOT_FOUND

    async def test_member_of_another_org_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await change_member(client, world, world.outsider, role="viewer")
        assert problem(response, 404)["detail"] != ORG_NOT_FOUND

    async def test_analyst_is_forbidden(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.patch(
            member_path(world, world.viewer), headers=world.analyst.headers, json={"role": "admin"}
        )
        problem(response, 403)


class TestRemoveMember:
    async def test_removal_is_audited_and_takes_effect_at_once(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await client.delete(
            member_path(world, world.viewer), headers=world.admin.headers
        )
        assert response.status_code == 204
        assert response.content == b""
        listed = await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        assert str(world.viewer.user_id) not in {m["user_id"] for m in listed.json()}
        problem(await client.get(f"/orgs/{world.org_id}", headers=world.viewer.headers), 404)
        [entry] = await audit_entries(app, world.org_id)
        assert (entry.action, entry.entity_id, entry.changes) == (
            "member.removed",
            str(world.viewer.user_id),
            {"role": ["viewer", None], "is_active": [True, None]},
        )

    async def test_unknown_member_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.delete(
            member_path(world, uuid.uuid4()), headers=world.admin.headers
        )
        assert problem(response, 404)["detail"] != ORG_NOT_FOUND


class TestLastAdmin:
    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"role": "analyst"}, id="demote"),
            pytest.param({"is_active": False}, id="deactivate"),
            pytest.param({"role": "viewer", "is_active": False}, id="both"),
        ],
    )
    async def test_last_active_admin_cannot_step_down(
        self, client: httpx.AsyncClient, app: FastAPI, world: World, changes: dict[str, Any]
    ) -> None:
        problem(await change_member(client, world, world.admin, **changes), 409)
        assert await audit_entries(app, world.org_id) == []
        assert (
            await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        ).is_success

    async def test_last_active_admin_cannot_be_removed(
        self, client: httpx.AsyncClient, app: FastAPI, world: World
    ) -> None:
        response = await client.delete(member_path(world, world.admin), headers=world.admin.headers)
        problem(response, 409)
        assert await audit_entries(app, world.org_id) == []

    async def test_an_inactive_admin_does_not_count(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await change_member(client, world, world.analyst, role="admin")
        await change_member(client, world, world.analyst, is_active=False)
        problem(await change_member(client, world, world.admin, role="viewer"), 409)
        response = await client.delete(member_path(world, world.admin), headers=world.admin.headers)
        problem(response, 409)

    async def test_an_admin_may_leave_while_another_remains(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await change_member(client, world, world.analyst, role="admin")
        demoted = await change_member(client, world, world.admin, role="viewer")
        assert demoted.status_code == 200, demoted.text
        response = await client.delete(
            member_path(world, world.analyst), headers=world.analyst.headers
        )
        problem(response, 409)

    async def test_keeping_the_admin_role_is_not_a_step_down(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await change_member(client, world, world.admin, role="admin", is_active=True)
        assert response.status_code == 200
