"""The web app in-process: sessions tied to logins, CSRF, escaping, and the API's figures."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ledgerline.auth.models import Login
from ledgerline.core.db import Database
from ledgerline.orgs.permissions import Role
from ledgerline.web import formatting
from ledgerline.web.models import WebSession
from tests.conftest import api_client
from tests.factories import PASSWORD, World, sign_in
from tests.web.helpers import csrf_of, sign_in_web, signed_in, texts, token_for, web_client

pytestmark = pytest.mark.asyncio


async def _record(app: FastAPI, headers: dict[str, str], org_id: object, **fields: str) -> None:
    async with api_client(app) as api:
        response = await api.post(f"/orgs/{org_id}/records", json=fields, headers=headers)
        assert response.status_code == 201, response.text


class TestSignIn:
    async def test_lands_on_the_dashboard_of_the_first_org(
        self, app: FastAPI, world: World
    ) -> None:
        async with web_client(app) as client:
            response = await sign_in_web(client, world.viewer.email)
            assert response.status_code == 303
            assert response.headers["location"] == f"/orgs/{world.org_id}/dashboard"
            cookie = response.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=lax" in cookie
            page = await client.get(response.headers["location"])
            assert page.status_code == 200
            assert "<h1>Dashboard</h1>" in page.text

    async def test_wrong_password_is_refused_with_the_api_message(
        self, app: FastAPI, world: World
    ) -> None:
        async with web_client(app) as client:
            response = await sign_in_web(client, world.viewer.email, "not-the-password")
            assert response.status_code == 401
            assert "invalid email or password" in response.text
            assert (
                "set-cookie" not in response.headers
                or "session" not in (response.headers["set-cookie"])
            )

    async def test_the_api_throttle_applies_to_the_form(self, app: FastAPI, world: World) -> None:
        async with web_client(app) as client:
            for _ in range(5):
                await sign_in_web(client, world.viewer.email, "not-the-password")
            response = await sign_in_web(client, world.viewer.email)
            assert response.status_code == 429
            assert "too many failed sign-in attempts" in response.text

    async def test_https_cookies_are_secure_with_the_host_prefix(
        self, app: FastAPI, world: World
    ) -> None:
        async with web_client(app, scheme="https") as client:
            response = await sign_in_web(client, world.viewer.email)
            cookie = response.headers["set-cookie"]
            assert cookie.startswith("__Host-ledgerline_session=")
            assert "Secure" in cookie
            assert "Path=/" in cookie

    async def test_an_outside_next_address_is_ignored(self, app: FastAPI, world: World) -> None:
        async with web_client(app) as client:
            token = await token_for(client)
            response = await client.post(
                "/login",
                data={
                    "email": world.viewer.email,
                    "password": PASSWORD,
                    "csrf_token": token,
                    "next": "//evil.example/",
                },
            )
            assert response.headers["location"] == f"/orgs/{world.org_id}/dashboard"


class TestCsrf:
    async def test_sign_in_without_a_token_is_refused(self, app: FastAPI, world: World) -> None:
        async with web_client(app) as client:
            await client.get("/login")
            response = await client.post(
                "/login", data={"email": world.viewer.email, "password": PASSWORD}
            )
            assert response.status_code == 403
            assert "security token" in response.text

    async def test_a_form_post_without_a_token_changes_nothing(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.analyst.email) as client:
            response = await client.post(
                f"/orgs/{world.org_id}/records/new",
                data={"amount": "5", "type": "expense", "category": "X", "date": "2026-01-02"},
            )
            assert response.status_code == 403
            assert "request id" in response.text.lower()
            listing = await client.get(f"/orgs/{world.org_id}/records")
            assert "No records yet" in listing.text

    async def test_another_browsers_token_is_refused(self, app: FastAPI, world: World) -> None:
        async with signed_in(app, world.admin.email) as other:
            foreign = csrf_of(await other.get("/profile"))
        async with signed_in(app, world.analyst.email) as client:
            response = await client.post(
                f"/orgs/{world.org_id}/records/new",
                data={
                    "amount": "5",
                    "type": "expense",
                    "category": "X",
                    "date": "2026-01-02",
                    "csrf_token": foreign,
                },
            )
            assert response.status_code == 403


class TestSessionsEndWithTheirLogin:
    async def test_sign_out_ends_the_session(self, app: FastAPI, world: World) -> None:
        async with signed_in(app, world.viewer.email) as client:
            token = csrf_of(await client.get("/profile"))
            cookies = dict(client.cookies)
            response = await client.post("/logout", data={"csrf_token": token})
            assert response.status_code == 303
        async with web_client(app) as replay:
            replay.cookies.update(cookies)
            page = await replay.get(f"/orgs/{world.org_id}/dashboard")
            assert page.status_code == 303
            assert page.headers["location"].startswith("/login?next=")

    async def test_a_password_change_through_the_api_ends_web_sessions(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.viewer.email) as client:
            async with api_client(app) as api:
                pair = await sign_in(api, world.viewer.email)
                response = await api.patch(
                    "/users/me",
                    json={"password": "An0ther-sturdy-passphrase!", "current_password": PASSWORD},
                    headers={"Authorization": f"Bearer {pair['access_token']}"},
                )
                assert response.status_code == 200, response.text
            page = await client.get(f"/orgs/{world.org_id}/dashboard")
            assert page.status_code == 303

    async def test_sign_out_everywhere_ends_api_tokens_too(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.viewer.email) as client:
            token = csrf_of(await client.get("/profile"))
            response = await client.post(
                "/logout", data={"csrf_token": token, "everywhere": "true"}
            )
            assert response.status_code == 303
        async with api_client(app) as api:
            me = await api.get("/users/me", headers=world.viewer.headers)
            assert me.status_code == 401

    async def test_a_deactivated_member_gets_the_not_found_page(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.viewer.email) as client:
            async with api_client(app) as api:
                response = await api.patch(
                    f"/orgs/{world.org_id}/members/{world.viewer.user_id}",
                    json={"is_active": False},
                    headers=world.admin.headers,
                )
                assert response.status_code == 200
            page = await client.get(f"/orgs/{world.org_id}/dashboard")
            assert page.status_code == 404
            assert "text/html" in page.headers["content-type"]


class TestPages:
    async def test_every_page_sends_the_content_security_policy(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.admin.email) as client:
            pages = (
                "dashboard",
                "records",
                "records/new",
                "accounts",
                "import",
                "members",
                "audit",
            )
            for path in pages:
                page = await client.get(f"/orgs/{world.org_id}/{path}")
                assert page.status_code == 200, path
                policy = page.headers["content-security-policy"]
                assert "script-src 'self'" in policy
                assert "frame-ancestors 'none'" in policy
                assert "<script>" not in page.text
                assert " style=" not in page.text

    async def test_a_note_holding_markup_is_shown_as_text(self, app: FastAPI, world: World) -> None:
        note = '<script>alert("x")</script><b>bold</b>'
        await _record(
            app,
            world.analyst.headers,
            world.org_id,
            amount="3.00",
            type="expense",
            category="<i>Snacks</i>",
            date="2026-02-03",
            notes=note,
        )
        async with signed_in(app, world.viewer.email) as client:
            page = await client.get(f"/orgs/{world.org_id}/records")
            assert note not in page.text
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
            assert "<i>Snacks</i>" not in page.text

    async def test_an_outsider_gets_the_not_found_page(self, app: FastAPI, world: World) -> None:
        async with signed_in(app, world.outsider.email) as client:
            page = await client.get(f"/orgs/{world.org_id}/records")
            assert page.status_code == 404
            assert "Not Found" in page.text

    async def test_a_viewer_sees_no_action_it_may_not_take(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.viewer.email) as client:
            page = await client.get(f"/orgs/{world.org_id}/records")
            for action in ("New record", "Export", ">Import<", ">Members<", ">Audit<"):
                assert action not in page.text
            dashboard = await client.get(f"/orgs/{world.org_id}/dashboard")
            assert "Insights" not in dashboard.text


class TestWeight:
    async def test_a_dashboard_with_its_scripts_and_styles_is_under_250_kb_compressed(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.analyst.email) as client:
            page = await client.get(f"/orgs/{world.org_id}/dashboard")
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
            assert any("chart" in asset for asset in assets)
            total = len(page.content)
            for asset in assets:
                async with client.stream(
                    "GET", asset, headers={"Accept-Encoding": "gzip"}
                ) as response:
                    assert response.status_code == 200, asset
                    sent = b"".join([chunk async for chunk in response.aiter_raw()])
                    if len(sent) > 1024:
                        assert response.headers.get("content-encoding") == "gzip", asset
                total += len(sent)
        assert total < 250_000


def _card(page: httpx.Response, heading: str) -> list[str]:
    return texts(page, rf"<h3>{heading}</h3><p class=\"figure\">([^<]*)</p>")


class TestDashboardMatchesTheApi:
    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    async def test_cards_and_trend_equal_the_api_for_the_same_period(
        self, app: FastAPI, world: World, role: Role
    ) -> None:
        today = dt.date.today()
        for day, kind, amount, currency in [
            (today.replace(day=1), "income", "5200.00", "USD"),
            (today, "expense", "1850.25", "USD"),
            (today, "expense", "99.99", "EUR"),
            (today - dt.timedelta(days=400), "expense", "7.00", "USD"),
        ]:
            await _record(
                app,
                world.analyst.headers,
                world.org_id,
                amount=amount,
                type=kind,
                category="Rent" if kind == "expense" else "Salary",
                date=day.isoformat(),
                currency=currency,
            )
        date_from = (today - dt.timedelta(days=60)).isoformat()
        period = f"date_from={date_from}&date_to={today.isoformat()}"
        async with api_client(app) as api:
            summary = (
                await api.get(
                    f"/orgs/{world.org_id}/dashboard/summary?{period}",
                    headers=world.by_role[role].headers,
                )
            ).json()
            trend = (
                await api.get(
                    f"/orgs/{world.org_id}/dashboard/trends?{period}&granularity=week",
                    headers=world.by_role[role].headers,
                )
            ).json()
        async with signed_in(app, world.by_role[role].email) as client:
            page = await client.get(
                f"/orgs/{world.org_id}/dashboard?period=custom&{period}&granularity=week"
            )
        assert page.status_code == 200
        locale = formatting.DEFAULT_LOCALE
        money = formatting.money
        by_currency = summary["by_currency"]
        assert [c["currency"] for c in by_currency] == ["EUR", "USD"]
        assert _card(page, "Income") == [
            money(c["total_income"], c["currency"], locale) for c in by_currency
        ]
        assert _card(page, "Expense") == [
            money(c["total_expense"], c["currency"], locale) for c in by_currency
        ]
        assert _card(page, "Net") == [
            money(c["net_balance"], c["currency"], locale) for c in by_currency
        ]
        assert _card(page, "Records") == [str(c["record_count"]) for c in by_currency]
        rows = texts(page, r'<tr><th scope="row">([^<]*)</th><td class="num"[^>]*>([^<]*)</td>')
        expected = [p for p in trend if p["currency"] == "USD"]
        trend_table = page.text.split('id="trend-title"', 1)[1].split("</table>", 1)[0]
        periods = re.findall(r'<tr><th scope="row">(\d{4}-W\d{2})</th>', trend_table)
        assert periods == [p["period"] for p in expected]
        assert rows


class TestRecordForm:
    async def test_a_stale_edit_shows_the_conflict_and_the_current_values(
        self, app: FastAPI, world: World
    ) -> None:
        async with api_client(app) as api:
            created = await api.post(
                f"/orgs/{world.org_id}/records",
                json={"amount": "10", "type": "expense", "category": "Taxi", "date": "2026-01-02"},
                headers=world.analyst.headers,
            )
            record_id = created.json()["id"]
        edit = f"/orgs/{world.org_id}/records/{record_id}/edit"
        async with signed_in(app, world.analyst.email) as client:
            form = await client.get(edit)
            assert 'name="version" value="1"' in form.text
            async with api_client(app) as api:
                changed = await api.patch(
                    f"/orgs/{world.org_id}/records/{record_id}",
                    json={"notes": "changed by someone else"},
                    headers=world.admin.headers,
                )
                assert changed.status_code == 200
            response = await client.post(
                edit,
                data={
                    "csrf_token": csrf_of(form),
                    "version": "1",
                    "amount": "12.00",
                    "type": "expense",
                    "category": "Taxi",
                    "date": "2026-01-02",
                    "notes": "mine",
                    "currency": "USD",
                },
            )
            assert response.status_code == 409
            assert "Someone changed this record meanwhile" in response.text
            assert "changed by someone else" in response.text
            assert 'name="version" value="2"' in response.text
        async with api_client(app) as api:
            current = await api.get(
                f"/orgs/{world.org_id}/records/{record_id}", headers=world.admin.headers
            )
            assert current.json()["amount"] == "10.00"

    async def test_field_errors_of_the_api_show_beside_their_fields(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.analyst.email) as client:
            form = await client.get(f"/orgs/{world.org_id}/records/new")
            fields = {"csrf_token": csrf_of(form), "type": "expense", "category": "Taxi"}
            url = f"/orgs/{world.org_id}/records/new"
            schema = await client.post(url, data={**fields, "amount": "x", "date": "2026-02-30"})
            assert schema.status_code == 422
            assert 'id="amount-error"' in schema.text
            assert 'id="date-error"' in schema.text
            assert 'aria-describedby="date-error"' in schema.text
            service = await client.post(
                url, data={**fields, "amount": "1.234", "date": "2026-02-03"}
            )
            assert service.status_code == 422
            assert 'id="amount-error"' in service.text
            assert "decimal" in service.text


class TestSessionRows:
    async def test_signing_in_deletes_the_users_ended_and_expired_sessions(
        self, app: FastAPI, world: World
    ) -> None:
        async with signed_in(app, world.viewer.email) as first:
            token = csrf_of(await first.get("/profile"))
            await first.post("/logout", data={"csrf_token": token})
        async with signed_in(app, world.viewer.email):
            pass
        database: Database = app.state.database
        async with database.sessions() as session:
            rows = await session.execute(
                select(WebSession.id, Login.revoked_at)
                .join(Login, Login.id == WebSession.login_id)
                .where(Login.user_id == world.viewer.user_id)
            )
            assert [revoked for _id, revoked in rows] == [None]


class TestMethodNotAllowed:
    async def test_a_page_answers_405_with_every_method_of_its_path(self, app: FastAPI) -> None:
        async with web_client(app) as client:
            response = await client.put("/login")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD, POST"
        assert response.headers["content-type"].startswith("text/html")

    async def test_readiness_is_not_a_page(self, app: FastAPI) -> None:
        async with web_client(app) as client:
            response = await client.post("/readyz")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"
        assert response.headers["content-type"].startswith("application/problem+json")
