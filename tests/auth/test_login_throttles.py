"""Failed sign-ins are throttled per email and address, per email, and per address (contract
"Auth" and "Operations"), and a wrong ``current_password`` on ``PATCH /users/me`` is one of
them. Each client below comes from its own address, as the server sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.config import Settings
from tests.conftest import AppFactory
from tests.factories import PASSWORD, Actor, make_user, problem, sign_in, unique_email

WRONG = "wrong-" + PASSWORD
ClientAt = Callable[[FastAPI, str], httpx.AsyncClient]


@pytest.fixture
async def client_at() -> AsyncIterator[ClientAt]:
    """Clients of an app whose requests come from the given address, closed after the test."""
    async with AsyncExitStack() as stack:

        def at(application: FastAPI, address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(
                app=application, raise_app_exceptions=False, client=(address, 50_000)
            )
            client = httpx.AsyncClient(transport=transport, base_url="http://test/api/v1")
            stack.push_async_callback(client.aclose)
            return client

        yield at


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def change_name(
    client: httpx.AsyncClient, actor: Actor, current_password: str
) -> httpx.Response:
    return await client.patch(
        "/users/me",
        json={"full_name": "Renamed", "current_password": current_password},
        headers=actor.headers,
    )


class TestDefaults:
    def test_the_contract_s_limits_are_the_defaults(self) -> None:
        fields = Settings.model_fields
        assert fields["login_failures_per_email_and_address"].default == "5/15minutes"
        assert fields["login_failures_per_email"].default == "100/hour"
        assert fields["login_failures_per_address"].default == "50/15minutes"


class TestFailuresPerEmailAndAddress:
    async def test_failures_from_elsewhere_do_not_lock_the_owner_out(
        self, app: FastAPI, client_at: ClientAt
    ) -> None:
        owner = await make_user(app)
        attacker = client_at(app, "203.0.113.9")
        for _ in range(5):
            problem(await log_in(attacker, owner.email, WRONG), 401)

        refused = await log_in(attacker, owner.email, PASSWORD)
        at_home = await log_in(client_at(app, "198.51.100.7"), owner.email, PASSWORD)

        problem(refused, 429)
        assert int(refused.headers["retry-after"]) > 0
        assert at_home.status_code == 200, at_home.text

    async def test_guesses_spread_over_addresses_lock_the_email_at_its_own_count(
        self, app_factory: AppFactory, client_at: ClientAt
    ) -> None:
        application = await app_factory(login_failures_per_email="6/hour")
        owner = await make_user(application)
        guessers = [client_at(application, f"203.0.113.{n}") for n in (1, 2, 3)]
        for client in guessers * 2:
            problem(await log_in(client, owner.email, WRONG), 401)

        refused = await log_in(client_at(application, "198.51.100.7"), owner.email, PASSWORD)

        problem(refused, 429)

    async def test_switched_off_it_leaves_the_other_limits(
        self, app_factory: AppFactory, client_at: ClientAt
    ) -> None:
        application = await app_factory(
            login_failures_per_email_and_address="0", login_failures_per_email="7/hour"
        )
        owner = await make_user(application)
        client = client_at(application, "203.0.113.9")
        for _ in range(7):
            problem(await log_in(client, owner.email, WRONG), 401)

        problem(await log_in(client, owner.email, PASSWORD), 429)


class TestWrongCurrentPassword:
    async def test_counts_as_a_failed_sign_in_and_is_refused_once_the_limit_is_used(
        self, app: FastAPI, client_at: ClientAt
    ) -> None:
        owner = await make_user(app)
        thief = client_at(app, "203.0.113.9")
        for _ in range(5):
            problem(await change_name(thief, owner, WRONG), 422)

        refused = await change_name(thief, owner, PASSWORD)
        sign_in_refused = await log_in(thief, owner.email, PASSWORD)

        problem(refused, 429)
        assert int(refused.headers["retry-after"]) > 0
        problem(sign_in_refused, 429)
        me = await client_at(app, "198.51.100.7").get("/users/me", headers=owner.headers)
        assert me.json()["full_name"] != "Renamed"

    async def test_failed_sign_ins_refuse_a_profile_change_from_that_address(
        self, app: FastAPI, client_at: ClientAt
    ) -> None:
        owner = await make_user(app)
        thief = client_at(app, "203.0.113.9")
        for _ in range(5):
            problem(await log_in(thief, owner.email, WRONG), 401)

        problem(await change_name(thief, owner, PASSWORD), 429)
        allowed = await change_name(client_at(app, "198.51.100.7"), owner, PASSWORD)

        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["full_name"] == "Renamed"

    async def test_the_right_password_does_not_count(
        self, app: FastAPI, client_at: ClientAt
    ) -> None:
        owner = await make_user(app, email=unique_email("steady"))
        client = client_at(app, "203.0.113.9")
        for _ in range(7):
            assert (await change_name(client, owner, PASSWORD)).status_code == 200
        await sign_in(client, owner.email)
