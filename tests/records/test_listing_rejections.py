"""Listing records with a bad query: a cursor is bound to its org, filters and sort; a
malformed or forged cursor is a 400; invalid parameters are a 422 naming the parameter. Never a
500."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from tests.factories import World, error_fields, problem
from tests.records.helpers import create_record, records_url, tampered


class TestRejectedQueries:
    async def test_cursor_of_another_query_is_a_bad_request(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        for _ in range(3):
            await create_record(client, org_id=world.org_id, actor=world.analyst)
            await create_record(client, org_id=world.outsider_org_id, actor=world.outsider)
        url = records_url(world.org_id)
        first = await client.get(
            url, params={"limit": 1, "type": "expense"}, headers=world.viewer.headers
        )
        cursor = first.json()["next_cursor"]
        assert cursor
        others: list[tuple[str, dict[str, Any]]] = [
            ("other filters", {"type": "income"}),
            ("no filters", {}),
            ("other sort", {"type": "expense", "sort": "date"}),
            ("other category", {"type": "expense", "category": "Food"}),
            ("deleted", {"type": "expense", "deleted": "only"}),
        ]
        for label, params in others:
            with subtests.test(label):
                response = await client.get(
                    url, params={**params, "cursor": cursor}, headers=world.admin.headers
                )
                problem(response, 400)
        with subtests.test("other org"):
            response = await client.get(
                records_url(world.outsider_org_id),
                params={"type": "expense", "cursor": cursor},
                headers=world.outsider.headers,
            )
            problem(response, 400)
        with subtests.test("same query, other limit, is fine"):
            response = await client.get(
                url,
                params={"type": "expense", "cursor": cursor, "limit": 5},
                headers=world.viewer.headers,
            )
            assert response.status_code == 200
            assert len(response.json()["items"]) == 2

    async def test_malformed_or_forged_cursor_is_a_bad_request(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        for _ in range(3):
            await create_record(client, org_id=world.org_id, actor=world.analyst)
        url = records_url(world.org_id)
        real = {}
        for sort in ("-date", "-amount", "-created_at"):
            page = await client.get(
                url, params={"limit": 1, "sort": sort}, headers=world.viewer.headers
            )
            real[sort] = page.json()["next_cursor"]
        record_id = str(uuid.uuid4())
        bad: list[tuple[str, str]] = [
            ("-date", "garbage"),
            ("-date", "!!!!"),
            ("-date", "\u00e9t\u00e9"),
            ("-date", base64.urlsafe_b64encode(b"not json").decode()),
            ("-date", base64.urlsafe_b64encode(b"[1, 2]").decode()),
            ("-date", real["-date"][:-3]),
            ("-date", tampered(real["-date"], ["2026-03-01"])),
            ("-date", tampered(real["-date"], ["not a date", record_id])),
            ("-date", tampered(real["-date"], [20260301, record_id])),
            ("-date", tampered(real["-date"], ["2026-03-01", "not a uuid"])),
            ("-date", tampered(real["-date"], ["2026-03-01", None])),
            ("-amount", tampered(real["-amount"], ["12.50", record_id])),
            ("-amount", tampered(real["-amount"], [True, record_id])),
            ("-amount", tampered(real["-amount"], [2**70, record_id])),
            ("-amount", tampered(real["-amount"], [-(2**64), record_id])),
            ("-created_at", tampered(real["-created_at"], ["2026-03-01T10:00:00", record_id])),
            ("-created_at", tampered(real["-created_at"], ["99999-01-01", record_id])),
        ]
        for sort, cursor in bad:
            with subtests.test(sort=sort, cursor=cursor[:40]):
                response = await client.get(
                    url, params={"sort": sort, "cursor": cursor}, headers=world.viewer.headers
                )
                problem(response, 400)

    async def test_invalid_parameters_are_422_naming_the_parameter(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"limit": 0}, "query.limit"),
            ({"limit": 201}, "query.limit"),
            ({"limit": 10000}, "query.limit"),
            ({"limit": "ten"}, "query.limit"),
            ({"offset": -1}, "query.offset"),
            ({"type": "transfer"}, "query.type"),
            ({"sort": "category"}, "query.sort"),
            ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "query.date_to"),
            ({"date_from": "2026-02-30"}, "query.date_from"),
            ({"date_from": "0"}, "query.date_from"),
            ({"date_to": "1772323200"}, "query.date_to"),
            ({"category": "Fo\x00od"}, "query.category.0"),
            ({"q": "a\x00b"}, "query.q"),
            ({"amount_min": "10", "amount_max": "9.99"}, "query.amount_max"),
            ({"amount_min": "-1"}, "query.amount_min"),
            ({"amount_max": "1e3"}, "query.amount_max"),
            ({"amount_max": "NaN"}, "query.amount_max"),
            ({"currency": "XYZ"}, "query.currency"),
            ({"include_total": "maybe"}, "query.include_total"),
            ({"cursor": "abc", "offset": 5}, "query.offset"),
        ]
        for params, field in cases:
            with subtests.test(params=params):
                response = await client.get(
                    records_url(world.org_id), params=params, headers=world.viewer.headers
                )
                assert error_fields(response) == {field}
