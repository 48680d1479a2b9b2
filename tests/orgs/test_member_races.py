"""Member changes racing each other: one wins, the others answer 409, never a 500.

The requests really overlap: each has its own session and connection, so on PostgreSQL their
transactions contend for the same rows (and, locking them in different orders, deadlocked);
on SQLite the writers queue on the database's write lock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.orgs.permissions import Role
from tests.factories import Actor, World, add_member, make_org, make_user, problem

TRIALS = 6
ADDERS = 6
Move = Callable[[httpx.AsyncClient, uuid.UUID, Actor, Actor], Awaitable[httpx.Response]]


async def demote(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, target: Actor
) -> httpx.Response:
    return await client.patch(
        f"/orgs/{org_id}/members/{target.user_id}", json={"role": "viewer"}, headers=actor.headers
    )


async def deactivate(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, target: Actor
) -> httpx.Response:
    return await client.patch(
        f"/orgs/{org_id}/members/{target.user_id}", json={"is_active": False}, headers=actor.headers
    )


async def remove(
    client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor, target: Actor
) -> httpx.Response:
    return await client.delete(f"/orgs/{org_id}/members/{target.user_id}", headers=actor.headers)


async def two_admins(app: FastAPI) -> tuple[uuid.UUID, Actor, Actor]:
    first = await make_user(app)
    second = await make_user(app)
    org_id = await make_org(app, owner=first)
    await add_member(app, org_id=org_id, actor=second, role=Role.ADMIN)
    return org_id, first, second


async def active_admins(client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor) -> list[str]:
    response = await client.get(f"/orgs/{org_id}/members", headers=actor.headers)
    assert response.status_code == 200, response.text
    return [m["email"] for m in response.json() if m["role"] == "admin" and m["is_active"]]


class TestAdminsActingOnEachOther:
    """The loser answers 409 (the last-admin rule) when both requests were past their
    permission check before either changed anything; when the winner committed first, the
    loser is no admin any more (403) or no member (404). Either way one admin remains."""

    @pytest.mark.parametrize(
        ("first_move", "second_move"),
        [(demote, demote), (remove, remove), (deactivate, remove)],
        ids=["demote-each-other", "remove-each-other", "deactivate-and-remove"],
    )
    async def test_exactly_one_wins_and_one_active_admin_remains(
        self, app: FastAPI, client: httpx.AsyncClient, first_move: Move, second_move: Move
    ) -> None:
        for _ in range(TRIALS):
            org_id, first, second = await two_admins(app)

            responses = await asyncio.gather(
                first_move(client, org_id, first, second),
                second_move(client, org_id, second, first),
            )

            won = [response.status_code in (200, 204) for response in responses]
            assert sorted(won) == [False, True], [response.text for response in responses]
            loser = responses[won.index(False)]
            assert loser.status_code in (403, 404, 409), loser.text
            if loser.status_code == 409:
                assert "at least one active admin" in problem(loser, 409)["detail"]
            winner = first if won[0] else second
            assert await active_admins(client, org_id, winner) == [winner.email]


class TestAddingTheSameMemberAtOnce:
    async def test_one_adds_and_the_others_are_conflicts(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        newcomer = await make_user(app)
        url = f"/orgs/{world.org_id}/members"
        body = {"email": newcomer.email, "role": "analyst"}

        responses = await asyncio.gather(
            *(client.post(url, json=body, headers=world.admin.headers) for _ in range(ADDERS))
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [409] * (ADDERS - 1), [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert "already a member" in problem(response, 409)["detail"]
        members = await client.get(url, headers=world.admin.headers)
        assert [m["email"] for m in members.json()].count(newcomer.email) == 1
