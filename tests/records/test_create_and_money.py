"""Creating records: the answer's shape, exact money per currency, every rejection, categories
and idempotent retries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from ledgerline.core.db import Database
from ledgerline.core.idempotency import IdempotencyKey
from tests.factories import World, error_fields, make_org, make_user, problem
from tests.records.helpers import create_record, record_body, record_total, records_url

RECORD_FIELDS = {
    "id",
    "org_id",
    "amount",
    "currency",
    "type",
    "category",
    "account_id",
    "transfer_id",
    "external_id",
    "date",
    "notes",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "version",
}

BODY_TAIL = b', "type": "expense", "category": "Food", "date": "2026-03-01"}'


async def post_raw(client: httpx.AsyncClient, world: World, content: bytes) -> httpx.Response:
    """POST ``content`` byte for byte, so the server sees the exact JSON text."""
    return await client.post(
        records_url(world.org_id),
        content=content,
        headers={**world.analyst.headers, "content-type": "application/json"},
    )


class TestCreateRecord:
    async def test_answer_is_201_with_location_etag_and_the_record(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        body = record_body(amount="1234.5", notes="March rent", category="Rent")
        response = await client.post(
            records_url(world.org_id), json=body, headers=world.analyst.headers
        )
        assert response.status_code == 201, response.text
        record = response.json()
        assert set(record) == RECORD_FIELDS
        location = response.headers["location"]
        assert location == f"/api/v1/orgs/{world.org_id}/records/{record['id']}"
        assert response.headers["etag"] == '"1"'
        assert record["amount"] == "1234.50"
        assert record["currency"] == "USD"
        assert (record["type"], record["category"], record["date"], record["notes"]) == (
            "expense",
            "Rent",
            "2026-03-01",
            "March rent",
        )
        assert record["org_id"] == str(world.org_id)
        assert record["created_by"] == record["updated_by"] == str(world.analyst.user_id)
        assert record["version"] == 1
        fetched = await client.get(location.removeprefix("/api/v1"), headers=world.viewer.headers)
        assert fetched.json() == record

    async def test_amount_is_a_decimal_string_with_the_currency_decimals(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        cases: list[tuple[object, str, str]] = [
            ("12.5", "USD", "12.50"),
            (12.5, "USD", "12.50"),
            (7, "USD", "7.00"),
            ("  8.10 ", "USD", "8.10"),
            ("0.01", "EUR", "0.01"),
            ("999999999999.99", "USD", "999999999999.99"),
            ("1000", "JPY", "1000"),
            (1000, "JPY", "1000"),
            ("1000.000", "JPY", "1000"),
            ("1.5", "KWD", "1.500"),
            ("0.001", "KWD", "0.001"),
            ("1.5e2", "USD", "150.00"),
        ]
        for amount, currency, expected in cases:
            with subtests.test(amount=amount, currency=currency):
                record = await create_record(
                    client,
                    org_id=world.org_id,
                    actor=world.analyst,
                    amount=amount,
                    currency=currency,
                )
                assert (record["amount"], record["currency"]) == (expected, currency)
        with subtests.test("JSON number with an exponent"):
            response = await post_raw(client, world, b'{"amount": 1.25e2' + BODY_TAIL)
            assert response.status_code == 201, response.text
            assert response.json()["amount"] == "125.00"

    async def test_currency_defaults_to_the_orgs_and_yen_has_no_decimals(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        owner = await make_user(app)
        yen_org = await make_org(app, owner=owner, currency="JPY")
        record = await create_record(client, org_id=yen_org, actor=owner, amount="1000")
        assert (record["amount"], record["currency"]) == ("1000", "JPY")
        response = await client.post(
            records_url(yen_org), json=record_body(amount="1000.5"), headers=owner.headers
        )
        assert error_fields(response) == {"amount"}

    async def test_currency_code_is_normalized(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, currency=" eur"
        )
        assert record["currency"] == "EUR"


class TestRejectedAmount:
    async def test_is_a_422_naming_amount_and_creates_nothing(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        amounts: list[object] = [
            "0",
            0,
            "0.00",
            "-5",
            -5,
            "-0.01",
            "10.001",
            "1000000000000",
            "999999999999.999",
            1000000000000,
            "1e999999999",
            "1e-999999999",
            "Infinity",
            "-Infinity",
            "NaN",
            "nan",
            "",
            " ",
            True,
            False,
            None,
            "ten",
            "1_000",
            "\u0661\u0660",
            "0x10",
            [],
            {},
        ]
        for amount in amounts:
            with subtests.test(amount=amount):
                response = await client.post(
                    records_url(world.org_id),
                    json=record_body(amount=amount),
                    headers=world.analyst.headers,
                )
                assert error_fields(response) == {"amount"}
        number_texts = [b"10.0000000000000001", b"10.001", b"1e999999999", b"1E+13", b"0.0"]
        for text in [*number_texts, b"-1", b"1e-3", b"-0"]:
            with subtests.test(json_number=text):
                response = await post_raw(client, world, b'{"amount": ' + text + BODY_TAIL)
                assert error_fields(response) == {"amount"}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_non_json_literal_or_unparseable_number_is_a_malformed_body(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        for literal in [b"NaN", b"Infinity", b"-Infinity", b"9" * 5000, b"01", b"1."]:
            with subtests.test(literal=literal[:12]):
                response = await post_raw(client, world, b'{"amount": ' + literal + BODY_TAIL)
                problem(response, 400)


class TestOtherRejectedFields:
    async def test_are_a_422_naming_the_field(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"currency": "XYZ"}, "currency"),
            ({"currency": "US"}, "currency"),
            ({"currency": ""}, "currency"),
            ({"currency": 840}, "currency"),
            ({"category": "   "}, "category"),
            ({"category": ""}, "category"),
            ({"category": "x" * 65}, "category"),
            ({"category": "Fo\x00od"}, "category"),
            ({"category": "Fo\x1bod"}, "category"),
            ({"notes": "a\x00b"}, "notes"),
            ({"notes": "bell\x07"}, "notes"),
            ({"notes": "n" * 1001}, "notes"),
            ({"date": "1899-12-31"}, "date"),
            ({"date": "2200-01-01"}, "date"),
            ({"date": "2026-02-30"}, "date"),
            ({"date": "yesterday"}, "date"),
            ({"date": 0}, "date"),
            ({"date": "0"}, "date"),
            ({"date": "20260301"}, "date"),
            ({"date": "2026-03-01T00:00:00"}, "date"),
            ({"date": "2026-3-1"}, "date"),
            ({"type": "transfer"}, "type"),
            ({"type": "Income"}, "type"),
        ]
        for overrides, field in cases:
            with subtests.test(**{k: str(v)[:12] for k, v in overrides.items()}):
                response = await client.post(
                    records_url(world.org_id),
                    json=record_body(**overrides),
                    headers=world.analyst.headers,
                )
                assert error_fields(response) == {field}
        with subtests.test("every missing field is named"):
            response = await client.post(
                records_url(world.org_id), json={}, headers=world.analyst.headers
            )
            assert error_fields(response) == {"amount", "type", "category", "date"}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_unknown_fields_are_rejected_so_clients_cannot_set_them(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        unknown: dict[str, object] = {
            "id": str(uuid.uuid4()),
            "org_id": str(world.outsider_org_id),
            "version": 7,
            "created_by": str(world.admin.user_id),
            "deleted": True,
            "deleted_at": "2026-01-01T00:00:00Z",
        }
        for field, value in unknown.items():
            with subtests.test(field=field):
                response = await client.post(
                    records_url(world.org_id),
                    json=record_body(**{field: value}),
                    headers=world.analyst.headers,
                )
                assert error_fields(response) == {field}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_values_at_the_limits_are_accepted(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        notes = "a\tb\nc" + "n" * 995
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"date": "1900-01-01"}, "date", "1900-01-01"),
            ({"date": "2199-12-31"}, "date", "2199-12-31"),
            ({"notes": notes}, "notes", notes),
            ({"notes": ""}, "notes", ""),
            ({"category": "c" * 64}, "category", "c" * 64),
            ({"category": "  " + "d" * 64 + " "}, "category", "d" * 64),
            ({"category": "Caf\u00e9 \u00e0 la carte"}, "category", "Caf\u00e9 \u00e0 la carte"),
        ]
        for overrides, field, expected in cases:
            with subtests.test(field=field, value=str(overrides[field])[:12]):
                record = await create_record(
                    client, org_id=world.org_id, actor=world.analyst, **overrides
                )
                assert record[field] == expected


class TestCategories:
    async def test_spellings_differing_in_case_or_spaces_share_the_first_spelling(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        names = []
        for spelling in ("Food", "food", " FOOD ", "fOoD"):
            record = await create_record(
                client, org_id=world.org_id, actor=world.analyst, category=spelling
            )
            names.append(record["category"])
        assert names == ["Food"] * 4

    async def test_listing_counts_live_records_per_category(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        for spelling in ("Food", "food", " FOOD ", "Rent"):
            await create_record(client, org_id=world.org_id, actor=world.analyst, category=spelling)
        doomed = await create_record(
            client, org_id=world.org_id, actor=world.analyst, category="Travel"
        )
        deleted = await client.delete(
            records_url(world.org_id, doomed["id"]), headers=world.admin.headers
        )
        assert deleted.status_code == 204
        await create_record(
            client, org_id=world.outsider_org_id, actor=world.outsider, category="FOOD"
        )
        response = await client.get(
            f"/orgs/{world.org_id}/categories", headers=world.viewer.headers
        )
        assert response.status_code == 200
        assert response.json() == [
            {"name": "Food", "record_count": 3},
            {"name": "Rent", "record_count": 1},
            {"name": "Travel", "record_count": 0},
        ]
        theirs = await client.get(
            f"/orgs/{world.outsider_org_id}/categories", headers=world.outsider.headers
        )
        assert theirs.json() == [{"name": "FOOD", "record_count": 1}]


class TestIdempotencyKey:
    async def test_repeat_with_same_body_returns_the_first_answer_and_creates_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        headers = {**world.analyst.headers, "Idempotency-Key": "order-42"}
        url = records_url(world.org_id)
        first = await client.post(url, json=record_body(amount="12.5"), headers=headers)
        again = await client.post(url, json=record_body(amount="12.50"), headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["etag"] == first.headers["etag"]
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 1

    async def test_same_key_with_another_body_is_a_conflict(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        headers = {**world.analyst.headers, "Idempotency-Key": "order-42"}
        url = records_url(world.org_id)
        assert (await client.post(url, json=record_body(), headers=headers)).status_code == 201
        problem(await client.post(url, json=record_body(amount="99"), headers=headers), 409)
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 1

    async def test_same_key_of_another_user_or_org_is_independent(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        key = {"Idempotency-Key": "k1"}
        url = records_url(world.org_id)
        mine = await client.post(url, json=record_body(), headers={**world.analyst.headers, **key})
        theirs = await client.post(url, json=record_body(), headers={**world.admin.headers, **key})
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 2
        elsewhere = await client.post(
            records_url(world.outsider_org_id),
            json=record_body(),
            headers={**world.outsider.headers, **key},
        )
        assert elsewhere.status_code == 201

    async def test_invalid_key_is_a_bad_request(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        for key in ["k" * 256, "caf\u00e9", "tab\there", "\x7f", "nul\x00"]:
            with subtests.test(key=key[:8]):
                headers = [
                    *world.analyst.headers.items(),
                    ("Idempotency-Key", key.encode("latin-1")),
                ]
                response = await client.post(
                    records_url(world.org_id), json=record_body(), headers=headers
                )
                problem(response, 400)
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_printable_keys_up_to_255_chars_are_accepted(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        for key in ["k" * 255, "a", "order 42", "~!@#$%^&*()\"'"]:
            with subtests.test(key=key[:8]):
                headers = {**world.analyst.headers, "Idempotency-Key": key}
                first = await client.post(
                    records_url(world.org_id), json=record_body(), headers=headers
                )
                again = await client.post(
                    records_url(world.org_id), json=record_body(), headers=headers
                )
                assert first.status_code == 201, first.text
                assert again.json() == first.json()
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 4

    async def test_expired_key_is_treated_as_new(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        headers = {**world.analyst.headers, "Idempotency-Key": "old-key"}
        url = records_url(world.org_id)
        first = await client.post(url, json=record_body(), headers=headers)
        async with database.sessions() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "old-key")
                .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
            )
            await session.commit()
        again = await client.post(url, json=record_body(amount="99"), headers=headers)
        assert again.status_code == 201, again.text
        assert again.json()["id"] != first.json()["id"]
        replay = await client.post(url, json=record_body(amount="99"), headers=headers)
        assert replay.json() == again.json()
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 2
