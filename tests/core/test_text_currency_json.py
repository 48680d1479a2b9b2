"""Input the API refuses whatever the field: C1 control characters in text, currency codes that
are not money, and JSON objects that name a key twice."""

from __future__ import annotations

import httpx
import pytest

from ledgerline.core.money import format_amount
from tests.factories import World, error_fields, problem
from tests.imports_exports.helpers import HEADER, csv_bytes, upload
from tests.records.helpers import create_record, record_body, records_url

C1_CHARACTERS = ["\x80", "\x85", "\x9b", "\x9f"]
NOT_MONEY = ["XXX", "XTS", "xxx"]


class TestC1ControlCharacters:
    @pytest.mark.parametrize("character", C1_CHARACTERS)
    @pytest.mark.parametrize("field", ["category", "notes"])
    @pytest.mark.parametrize("where", ["inside", "at the end"])
    async def test_record_text_is_a_422(
        self, client: httpx.AsyncClient, world: World, field: str, character: str, where: str
    ) -> None:
        text = f"Re{character}nt" if where == "inside" else f"Rent{character}"
        response = await client.post(
            records_url(world.org_id),
            json=record_body(**{field: text}),
            headers=world.analyst.headers,
        )
        problem(response, 422)
        assert error_fields(response) == {field}

    @pytest.mark.parametrize("character", C1_CHARACTERS)
    async def test_names_are_a_422(
        self, client: httpx.AsyncClient, world: World, character: str
    ) -> None:
        org = await client.post(
            "/orgs", json={"name": f"Team{character}"}, headers=world.admin.headers
        )
        problem(org, 422)
        assert error_fields(org) == {"name"}
        registered = await client.post(
            "/auth/register",
            json={
                "email": "c1@example.com",
                "password": "a long enough passphrase",
                "full_name": f"Ann{character}",
            },
        )
        problem(registered, 422)
        assert error_fields(registered) == {"full_name"}

    @pytest.mark.parametrize("character", C1_CHARACTERS)
    async def test_text_filters_are_a_422(
        self, client: httpx.AsyncClient, world: World, character: str
    ) -> None:
        listed = await client.get(
            records_url(world.org_id), params={"q": f"a{character}"}, headers=world.admin.headers
        )
        problem(listed, 422)
        assert error_fields(listed) == {"query.q"}
        audited = await client.get(
            f"/orgs/{world.org_id}/audit",
            params={"entity_id": f"a{character}"},
            headers=world.admin.headers,
        )
        problem(audited, 422)
        assert error_fields(audited) == {"query.entity_id"}

    @pytest.mark.parametrize("character", C1_CHARACTERS)
    async def test_csv_cell_is_a_row_error(
        self, client: httpx.AsyncClient, world: World, character: str
    ) -> None:
        content = csv_bytes(HEADER, f"2026-03-01,expense,Food,1.00,lunch{character},,")
        response = await upload(client, world.org_id, world.analyst, content)
        body = problem(response, 422)
        assert [error["row"] for error in body["errors"]] == [2]

    async def test_printable_latin1_passes(self, client: httpx.AsyncClient, world: World) -> None:
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, category="Café", notes="½ £ ÿ\xa0"
        )
        assert record["notes"] == "½ £ ÿ\xa0"


class TestCurrenciesThatAreNotMoney:
    @pytest.mark.parametrize("code", NOT_MONEY)
    async def test_record_currency_is_a_422(
        self, client: httpx.AsyncClient, world: World, code: str
    ) -> None:
        response = await client.post(
            records_url(world.org_id),
            json=record_body(currency=code),
            headers=world.analyst.headers,
        )
        problem(response, 422)
        assert error_fields(response) == {"currency"}

    @pytest.mark.parametrize("code", NOT_MONEY)
    async def test_org_currency_and_filter_are_a_422(
        self, client: httpx.AsyncClient, world: World, code: str
    ) -> None:
        org = await client.post(
            "/orgs", json={"name": "Test", "currency": code}, headers=world.admin.headers
        )
        problem(org, 422)
        assert error_fields(org) == {"currency"}
        listed = await client.get(
            records_url(world.org_id), params={"currency": code}, headers=world.admin.headers
        )
        problem(listed, 422)
        assert error_fields(listed) == {"query.currency"}

    @pytest.mark.parametrize("code", NOT_MONEY)
    async def test_csv_currency_is_a_row_error(
        self, client: httpx.AsyncClient, world: World, code: str
    ) -> None:
        content = csv_bytes(HEADER, f"2026-03-01,expense,Food,1.00,,{code},")
        response = await upload(client, world.org_id, world.analyst, content)
        body = problem(response, 422)
        assert [(error["row"], error["field"]) for error in body["errors"]] == [(2, "currency")]

    @pytest.mark.parametrize("code", NOT_MONEY)
    def test_stored_amounts_in_them_still_read(self, code: str) -> None:
        assert format_amount(1000, code) in {"1000", "10.00"}


class TestRepeatedJsonKeys:
    @pytest.mark.parametrize(
        "body",
        [
            '{"amount": "1.00", "amount": "2.00", "type": "expense", "category": "Food",'
            ' "date": "2026-03-01"}',
            '{"amount": "1.00", "type": "expense", "category": "Food", "date": "2026-03-01",'
            ' "notes": "x", "notes": "x"}',
        ],
    )
    async def test_is_a_400_and_creates_nothing(
        self, client: httpx.AsyncClient, world: World, body: str
    ) -> None:
        response = await client.post(
            records_url(world.org_id),
            content=body,
            headers={**world.analyst.headers, "Content-Type": "application/json"},
        )
        problem(response, 400)
        assert "repeated" in response.json()["detail"]
        listed = await client.get(records_url(world.org_id), headers=world.admin.headers)
        assert listed.json()["items"] == []

    async def test_nested_object_is_checked_too(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            "/auth/login",
            content='{"email": "a@example.com", "password": "x", "extra": {"a": 1, "a": 2}}',
            headers={"Content-Type": "application/json"},
        )
        problem(response, 400)

    async def test_same_key_in_sibling_objects_is_fine(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            "/auth/login",
            content='{"email": "a@example.com", "password": "x", "extra": [{"a": 1}, {"a": 2}]}',
            headers={"Content-Type": "application/json"},
        )
        problem(response, 422)


class TestBodyIsAnObject:
    """FastAPI takes a falsy JSON body for an absent one: a PATCH whose fields are all
    optional once answered 200 to ``0.0`` and changed nothing."""

    @pytest.mark.parametrize("body", ["0.0", "1e-300", "0", "false", '""', "[]", "null", '"x"'])
    async def test_a_json_value_that_is_no_object_is_refused(
        self, client: httpx.AsyncClient, world: World, body: str
    ) -> None:
        url = f"/orgs/{world.org_id}/members/{world.analyst.user_id}"
        response = await client.patch(
            url, content=body, headers={**world.admin.headers, "Content-Type": "application/json"}
        )
        problem(response, 422)
        assert error_fields(response) == {"body"}
        members = await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        roles = {m["user_id"]: m["role"] for m in members.json()}
        assert roles[str(world.analyst.user_id)] == "analyst"

    async def test_an_object_still_works(self, client: httpx.AsyncClient, world: World) -> None:
        url = f"/orgs/{world.org_id}/members/{world.analyst.user_id}"
        response = await client.patch(url, json={"role": "viewer"}, headers=world.admin.headers)
        assert response.status_code == 200
