"""Registration, sign-in and their throttling, as spec/api.md "Auth" and "Operations" fix them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core.db import Database
from ledgerline.users import service as users_service
from tests.conftest import REDIS_ANSWERS, REDIS_URL, AppFactory, api_client
from tests.factories import (
    PASSWORD,
    bearer,
    error_fields,
    make_user,
    problem,
    sign_in,
    unique_email,
)

INVALID_CREDENTIALS = "invalid email or password"


def registration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": unique_email("new"),
        "password": PASSWORD,
        "full_name": "Ada Lovelace",
    }
    body.update(changes)
    return body


async def failed_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": "wrong-" + PASSWORD})


class TestRegister:
    async def test_new_account_answers_201_with_its_public_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        body = registration(email="Ada.Lovelace@Example.com")
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 201, response.text
        user = response.json()
        assert set(user) == {"id", "email", "full_name", "created_at"}
        assert user["email"] == "Ada.Lovelace@example.com"
        assert user["full_name"] == "Ada Lovelace"

    async def test_new_account_is_a_member_of_no_org(self, client: httpx.AsyncClient) -> None:
        body = registration()
        assert (await client.post("/auth/register", json=body)).status_code == 201
        headers = bearer((await sign_in(client, body["email"]))["access_token"])
        me = (await client.get("/users/me", headers=headers)).json()
        assert me["memberships"] == []
        assert (await client.get("/orgs", headers=headers)).json() == []

    async def test_a_stranger_cannot_read_the_default_org_of_the_first_admin(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        database: Database = app.state.database
        async with database.sessions() as session:
            admin = await users_service.create_admin(
                session,
                app.state.password_hasher,
                app.state.settings,
                email=unique_email("admin"),
                password=PASSWORD,
            )
            await session.commit()
        body = registration()
        assert (await client.post("/auth/register", json=body)).status_code == 201
        headers = bearer((await sign_in(client, body["email"]))["access_token"])

        response = await client.get(f"/orgs/{admin.org_id}/records", headers=headers)

        problem(response, 404)

    async def test_email_taken_in_another_case_conflicts(self, client: httpx.AsyncClient) -> None:
        email = unique_email("taken")
        assert (await client.post("/auth/register", json=registration(email=email))).is_success
        response = await client.post("/auth/register", json=registration(email=email.upper()))
        problem(response, 409)

    @pytest.mark.parametrize(
        "password",
        [
            pytest.param("Sh0rt-pw!", id="nine-characters"),
            pytest.param("x" * 60 + "Long-enough-but-129-characters-" + "y" * 38, id="too-long"),
            pytest.param("1234567890", id="common"),
            pytest.param("PASSWORD1234", id="common-in-capitals"),
            pytest.param("abababababab", id="two-distinct-characters"),
        ],
    )
    async def test_weak_password_is_rejected_naming_password(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        response = await client.post("/auth/register", json=registration(password=password))
        assert error_fields(response) == {"password"}

    async def test_password_of_exactly_the_bounds_is_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        for password in ("Zq8-vT2#kL", "Zq8-vT2#kL" * 12 + "Zq8-vT2#"):
            assert len(password) in (10, 128)
            response = await client.post("/auth/register", json=registration(password=password))
            assert response.status_code == 201, response.text

    async def test_password_equal_to_the_email_is_rejected(self, client: httpx.AsyncClient) -> None:
        email = unique_email("self")
        response = await client.post(
            "/auth/register", json=registration(email=email, password=email.upper())
        )
        assert error_fields(response) == {"password"}

    @pytest.mark.parametrize(
        "name", ["Ada\x00Lovelace", "Ada\x07", "Ada\x1b[31m", "Ada\x7f", "", "   ", "x" * 201]
    )
    async def test_blank_long_or_control_character_full_name_is_rejected(
        self, client: httpx.AsyncClient, name: str
    ) -> None:
        response = await client.post("/auth/register", json=registration(full_name=name))
        assert error_fields(response) == {"full_name"}

    async def test_malformed_email_is_rejected(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/register", json=registration(email="not-an-email"))
        assert error_fields(response) == {"email"}

    async def test_unknown_field_is_rejected(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/register", json=registration(role="admin"))
        assert error_fields(response) == {"role"}

    async def test_switched_off_registration_is_forbidden(self, app_factory: AppFactory) -> None:
        closed = await app_factory(allow_registration=False)
        async with api_client(closed) as client:
            response = await client.post("/auth/register", json=registration())
        problem(response, 403)


class TestLogin:
    async def test_correct_credentials_answer_a_bearer_token_pair(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        response = await client.post(
            "/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        pair = response.json()
        assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert pair["token_type"] == "bearer"
        assert pair["expires_in"] == 15 * 60
        me = await client.get("/users/me", headers=bearer(pair["access_token"]))
        assert me.json()["id"] == str(user.user_id)

    async def test_email_matches_in_any_case(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        user = await make_user(app)
        await sign_in(client, user.email.upper())

    async def test_wrong_password_and_unknown_email_fail_identically(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        wrong_password = await failed_login(client, user.email)
        unknown_email = await failed_login(client, unique_email("nobody"))
        for response in (wrong_password, unknown_email):
            assert problem(response, 401)["detail"] == INVALID_CREDENTIALS
            assert response.headers["www-authenticate"] == "Bearer"
        assert wrong_password.content == unknown_email.content

    async def test_an_email_no_account_can_have_is_just_wrong_credentials(
        self, client: httpx.AsyncClient
    ) -> None:
        """NUL included, which PostgreSQL cannot even compare: from the JSON and the form."""
        for email in ("a\x00b@example.com", "bell\x07@example.com"):
            by_json = await client.post("/auth/login", json={"email": email, "password": "x"})
            by_form = await client.post("/auth/token", data={"username": email, "password": "x"})
            for response in (by_json, by_form):
                assert problem(response, 401)["detail"] == INVALID_CREDENTIALS

    async def test_unknown_email_costs_a_password_check_like_a_known_one(
        self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hasher: PasswordHasher = app.state.password_hasher
        checked: list[str | None] = []
        verify = hasher.verify

        async def counting_verify(password: str, password_hash: str | None) -> bool:
            checked.append(password_hash)
            return await verify(password, password_hash)

        monkeypatch.setattr(hasher, "verify", counting_verify)
        user = await make_user(app)
        await failed_login(client, user.email)
        await failed_login(client, unique_email("nobody"))
        assert len(checked) == 2
        assert checked[1] is None  # no account: the stand-in hash was checked all the same


class TestTokenForm:
    async def test_oauth2_password_form_signs_in(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        response = await client.post(
            "/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        pair = response.json()
        assert pair["token_type"] == "bearer"
        assert (await client.get("/users/me", headers=bearer(pair["access_token"]))).is_success

    async def test_wrong_password_in_the_form_is_unauthorized(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        response = await client.post(
            "/auth/token", data={"username": user.email, "password": "not-" + PASSWORD}
        )
        assert problem(response, 401)["detail"] == INVALID_CREDENTIALS


class TestLoginThrottling:
    async def test_five_failures_lock_the_email_even_for_the_right_password(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        for _ in range(5):
            problem(await failed_login(client, user.email), 401)
        locked = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
        problem(locked, 429)
        assert int(locked.headers["retry-after"]) > 0

    async def test_the_lock_covers_every_spelling_of_the_email(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        for _ in range(5):
            await failed_login(client, user.email.upper())
        problem(await failed_login(client, user.email), 429)

    async def test_successful_logins_do_not_count(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        user = await make_user(app)
        for _ in range(7):
            await sign_in(client, user.email)

    async def test_a_locked_email_leaves_other_emails_alone(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        locked, other = await make_user(app), await make_user(app)
        for _ in range(6):
            await failed_login(client, locked.email)
        await sign_in(client, other.email)

    async def test_failures_from_one_address_lock_the_address(
        self, app_factory: AppFactory
    ) -> None:
        application = await app_factory(login_failures_per_address="3/15minutes")
        user = await make_user(application)
        async with api_client(application) as client:
            for _ in range(3):
                problem(await failed_login(client, unique_email("guess")), 401)
            locked = await client.post(
                "/auth/login", json={"email": user.email, "password": PASSWORD}
            )
        problem(locked, 429)
        assert int(locked.headers["retry-after"]) > 0

    async def test_zero_switches_the_limits_off(self, app_factory: AppFactory) -> None:
        application = await app_factory(
            login_failures_per_email_and_address="0", login_failures_per_email="0"
        )
        user = await make_user(application)
        async with api_client(application) as client:
            for _ in range(8):
                problem(await failed_login(client, user.email), 401)
            await sign_in(client, user.email)


class TestRequestThrottling:
    async def test_requests_of_one_user_are_limited(self, app_factory: AppFactory) -> None:
        application = await app_factory(requests_per_user="3/minute")
        busy, other = await make_user(application), await make_user(application)
        async with api_client(application) as client:
            for _ in range(3):
                assert (await client.get("/users/me", headers=busy.headers)).status_code == 200
            refused = await client.get("/orgs", headers=busy.headers)
            assert (await client.get("/users/me", headers=other.headers)).status_code == 200
        problem(refused, 429)
        assert int(refused.headers["retry-after"]) > 0


class TestRegistrationThrottling:
    async def test_registrations_from_one_address_are_limited(
        self, app_factory: AppFactory
    ) -> None:
        application = await app_factory(registrations_per_address="2/hour")
        async with api_client(application) as client:
            for _ in range(2):
                response = await client.post("/auth/register", json=registration())
                assert response.status_code == 201, response.text
            refused = await client.post("/auth/register", json=registration())
        problem(refused, 429)
        assert int(refused.headers["retry-after"]) > 0


@pytest.fixture
def redis_url() -> str:
    if not REDIS_ANSWERS:
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    return REDIS_URL


class TestRedisRateLimits:
    async def test_login_failures_are_counted_across_processes(
        self, app_factory: AppFactory, redis_url: str
    ) -> None:
        # Two apps stand for two processes: they share nothing but Redis. The per-address
        # limit is off because the test address is the same on every run of the suite.
        limits = {"redis_url": redis_url, "login_failures_per_address": "0"}
        first, second = await app_factory(**limits), await app_factory(**limits)
        user = await make_user(first, email=unique_email("redis"))
        async with api_client(first) as one, api_client(second) as other:
            for client in (one, other, one, other, one):
                problem(await failed_login(client, user.email), 401)
            locked = await other.post(
                "/auth/login", json={"email": user.email, "password": PASSWORD}
            )
        problem(locked, 429)
        assert int(locked.headers["retry-after"]) > 0
