"""Access tokens, refresh rotation with reuse detection, logout and password change."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import select, update

from ledgerline.auth.models import Login, RefreshToken
from ledgerline.auth.tokens import AccessTokens
from ledgerline.core.db import Database
from ledgerline.core.errors import Unauthorized
from tests.conftest import TEST_SECRET, AppFactory, api_client
from tests.factories import PASSWORD, Actor, bearer, error_fields, make_user, problem, sign_in

NEW_PASSWORD = "another-Sturdy-passphrase-77"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(actor: Actor, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(actor.token, options={"verify_signature": False})
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _signed(claims: dict[str, Any], *, secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        # The app's own secret is short for HS512; the point is that HS512 is refused at all.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def _tampered_signature(actor: Actor) -> str:
    head, payload, signature = actor.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


def _tampered_payload(actor: Actor, other: Actor) -> str:
    head, _payload, signature = actor.token.split(".")
    return f"{head}.{_b64(_claims(actor, sub=str(other.user_id)))}.{signature}"


def _unsigned(actor: Actor) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(actor))}."


def _expired(actor: Actor) -> str:
    claims = _claims(actor)
    tokens = AccessTokens(TEST_SECRET, lifetime=dt.timedelta(seconds=-1))
    return tokens.issue(user_id=uuid.UUID(claims["sub"]), login_id=uuid.UUID(claims["sid"]))


BAD_TOKENS: dict[str, Callable[[Actor, Actor], str]] = {
    "expired": lambda me, _other: _expired(me),
    "tampered-signature": lambda me, _other: _tampered_signature(me),
    "tampered-payload": _tampered_payload,
    "alg-none": lambda me, _other: _unsigned(me),
    "wrong-secret": lambda me, _other: _signed(_claims(me), secret="x" * 32 + TEST_SECRET),
    "other-hmac-algorithm": lambda me, _other: _signed(_claims(me), algorithm="HS512"),
    "missing-sub": lambda me, _other: _signed(_claims(me, sub=None)),
    "missing-sid": lambda me, _other: _signed(_claims(me, sid=None)),
    "missing-exp": lambda me, _other: _signed(_claims(me, exp=None)),
    "missing-typ": lambda me, _other: _signed(_claims(me, typ=None)),
    "not-an-access-token": lambda me, _other: _signed(_claims(me, typ="refresh")),
    "sub-not-a-uuid": lambda me, _other: _signed(_claims(me, sub="admin")),
    "login-of-another-user": lambda me, other: _signed(_claims(me, sub=str(other.user_id))),
    "unknown-login": lambda me, _other: _signed(_claims(me, sid=str(uuid.uuid4()))),
    "garbage": lambda _me, _other: "not-a-token",
}


def assert_unauthenticated(response: httpx.Response) -> None:
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def login_row(database: Database, access_token: str) -> Login:
    login_id = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    async with database.sessions() as session:
        return await session.get_one(Login, uuid.UUID(login_id))


class TestAccessToken:
    async def test_valid_token_is_accepted(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        me = await make_user(app)
        response = await client.get("/users/me", headers=me.headers)
        assert response.status_code == 200

    @pytest.mark.parametrize("kind", list(BAD_TOKENS))
    async def test_bad_token_is_unauthorized(
        self, client: httpx.AsyncClient, app: FastAPI, kind: str
    ) -> None:
        me, other = await make_user(app), await make_user(app)
        token = BAD_TOKENS[kind](me, other)
        assert_unauthenticated(await client.get("/users/me", headers=bearer(token)))

    async def test_refresh_token_is_not_an_access_token(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        pair = await sign_in(client, me.email)
        response = await client.get("/users/me", headers=bearer(pair["refresh_token"]))
        assert_unauthenticated(response)

    @pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"])
    async def test_missing_or_other_scheme_is_unauthorized(
        self, client: httpx.AsyncClient, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header is not None else {}
        assert_unauthenticated(await client.get("/users/me", headers=headers))


class TestRefresh:
    async def test_refresh_answers_a_new_working_pair(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        first = await sign_in(client, me.email)
        response = await client.post(
            "/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert response.status_code == 200, response.text
        second = response.json()
        assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert second["refresh_token"] != first["refresh_token"]
        assert (await client.get("/users/me", headers=bearer(second["access_token"]))).is_success
        again = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert again.status_code == 200

    async def test_rotated_token_stops_working(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        first = await sign_in(client, me.email)
        await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert_unauthenticated(reused)

    async def test_reused_token_revokes_the_login(
        self, client: httpx.AsyncClient, app: FastAPI, database: Database
    ) -> None:
        me = await make_user(app)
        first = await sign_in(client, me.email)
        rotated = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        newest = rotated.json()
        reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert_unauthenticated(reused)
        # The revocation was committed although the answer was an error.
        ended = await login_row(database, newest["access_token"])
        assert ended.revoked_at is not None
        assert ended.revoked_reason == "refresh-token-reuse"
        for access in (first["access_token"], newest["access_token"]):
            assert_unauthenticated(await client.get("/users/me", headers=bearer(access)))
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": newest["refresh_token"]}
        )
        assert_unauthenticated(refreshed)

    async def test_reuse_leaves_other_logins_alone(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        stolen, elsewhere = await sign_in(client, me.email), await sign_in(client, me.email)
        await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
        assert (await client.get("/users/me", headers=bearer(elsewhere["access_token"]))).is_success
        response = await client.post(
            "/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
        )
        assert response.status_code == 200

    async def test_unknown_token_is_unauthorized(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/auth/refresh", json={"refresh_token": "made-up-token"})
        assert_unauthenticated(response)

    async def test_expired_token_is_unauthorized(
        self, client: httpx.AsyncClient, app: FastAPI, database: Database
    ) -> None:
        me = await make_user(app)
        pair = await sign_in(client, me.email)
        async with database.sessions() as session:
            await session.execute(
                update(RefreshToken).values(
                    expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                )
            )
            await session.commit()
        response = await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert_unauthenticated(response)


class TestLogout:
    async def test_logout_ends_the_login_and_its_tokens(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        pair = await sign_in(client, me.email)
        response = await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert response.status_code == 204
        assert response.content == b""
        assert_unauthenticated(await client.get("/users/me", headers=bearer(pair["access_token"])))
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert_unauthenticated(refreshed)

    async def test_logout_leaves_other_logins_alone(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        leaving, staying = await sign_in(client, me.email), await sign_in(client, me.email)
        await client.post("/auth/logout", json={"refresh_token": leaving["refresh_token"]})
        assert (await client.get("/users/me", headers=bearer(staying["access_token"]))).is_success
        assert (await client.get("/users/me", headers=me.headers)).is_success
        response = await client.post(
            "/auth/refresh", json={"refresh_token": staying["refresh_token"]}
        )
        assert response.status_code == 200


class TestPasswordChange:
    async def test_new_password_ends_every_other_login_but_this_one(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        current, other = await sign_in(client, me.email), await sign_in(client, me.email)
        response = await client.patch(
            "/users/me",
            headers=bearer(current["access_token"]),
            json={"password": NEW_PASSWORD, "current_password": PASSWORD},
        )
        assert response.status_code == 200, response.text
        assert (await client.get("/users/me", headers=bearer(current["access_token"]))).is_success
        kept = await client.post("/auth/refresh", json={"refresh_token": current["refresh_token"]})
        assert kept.status_code == 200
        for access in (other["access_token"], me.token):
            assert_unauthenticated(await client.get("/users/me", headers=bearer(access)))
        ended = await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert_unauthenticated(ended)
        await sign_in(client, me.email, NEW_PASSWORD)
        old = await client.post("/auth/login", json={"email": me.email, "password": PASSWORD})
        problem(old, 401)

    async def test_wrong_current_password_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        other = await sign_in(client, me.email)
        response = await client.patch(
            "/users/me",
            headers=me.headers,
            json={"password": NEW_PASSWORD, "current_password": "not-" + PASSWORD},
        )
        assert error_fields(response) == {"current_password"}
        assert (await client.get("/users/me", headers=bearer(other["access_token"]))).is_success
        await sign_in(client, me.email, PASSWORD)

    async def test_current_password_is_required(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        response = await client.patch(
            "/users/me", headers=me.headers, json={"password": NEW_PASSWORD}
        )
        assert error_fields(response) == {"current_password"}

    async def test_refused_new_password_changes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, database: Database
    ) -> None:
        me = await make_user(app, full_name="Before")
        other = await sign_in(client, me.email)
        response = await client.patch(
            "/users/me",
            headers=me.headers,
            json={"full_name": "After", "password": "short", "current_password": PASSWORD},
        )
        assert error_fields(response) == {"password"}
        me_now = await client.get("/users/me", headers=bearer(other["access_token"]))
        assert me_now.json()["full_name"] == "Before"
        async with database.sessions() as session:
            open_logins = await session.scalars(
                select(Login).where(Login.user_id == me.user_id, Login.revoked_at.is_(None))
            )
            assert len(open_logins.all()) == 2


class TestSigningSecret:
    async def test_generated_secret_is_shared_by_every_process(
        self, app_factory: AppFactory
    ) -> None:
        # No secret configured: the first process generates one and keeps it in the database,
        # so a token from one process is good at another (two apps stand for two processes).
        first = await app_factory(secret_key=None)
        second = await app_factory(secret_key=None)
        me = await make_user(first)
        async with api_client(second) as client:
            assert (await client.get("/users/me", headers=me.headers)).status_code == 200

    async def test_configured_secret_is_not_the_generated_one(
        self, app_factory: AppFactory
    ) -> None:
        generated = await app_factory(secret_key=None)
        me = await make_user(generated)
        configured = await app_factory()
        async with api_client(configured) as client:
            assert_unauthenticated(await client.get("/users/me", headers=me.headers))


class TestVerifiedTokensAreRemembered:
    """``AccessTokens.decode`` checks a token's signature once; the rest still holds."""

    def test_a_remembered_token_still_expires(self, monkeypatch: pytest.MonkeyPatch) -> None:
        tokens = AccessTokens(TEST_SECRET, lifetime=dt.timedelta(minutes=15))
        user_id, login_id = uuid.uuid4(), uuid.uuid4()
        token = tokens.issue(user_id=user_id, login_id=login_id)
        assert tokens.decode(token).user_id == user_id
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
        monkeypatch.setattr("ledgerline.auth.tokens.time.time", later.timestamp)
        with pytest.raises(Unauthorized, match="expired"):
            tokens.decode(token)

    def test_a_refused_token_is_refused_again(self) -> None:
        tokens = AccessTokens(TEST_SECRET, lifetime=dt.timedelta(minutes=15))
        other = AccessTokens("y" * 40, lifetime=dt.timedelta(minutes=15))
        forged = other.issue(user_id=uuid.uuid4(), login_id=uuid.uuid4())
        for _ in range(2):
            with pytest.raises(Unauthorized, match="invalid access token"):
                tokens.decode(forged)

    async def test_a_signed_out_login_is_refused_with_its_remembered_token(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        me = await make_user(app)
        pair = await sign_in(client, me.email)
        headers = bearer(pair["access_token"])
        assert (await client.get("/users/me", headers=headers)).is_success
        await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert_unauthenticated(await client.get("/users/me", headers=headers))
