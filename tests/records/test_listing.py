"""Listing records: every filter agrees with a brute-force filter of the same data, cursor walks
serve each record once in order (even while records are being added), and bad queries are
400/422, never 500."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from tests.factories import World
from tests.records.helpers import (
    Json,
    record_body,
    records_url,
    seed_records,
    walk_records,
)
from tests.statements import TRANSACTION_CONTROL, statements_counted

SEED = 20260301
CATEGORY_SPELLINGS = {
    "Food": ["food", "FOOD", " Food "],
    "Rent": ["rent", "RENT"],
    "Caf\u00e9": ["CAF\u00c9", "caf\u00e9"],
    "Stra\u00dfe": ["STRASSE", "strasse"],
    "Salary": ["salary"],
    "Travel": ["travel", "TRAVEL"],
}
NOTE_WORDS = [
    "coffee", "Lunch", "taxi", "groceries", "100%", "under_score", "Miete", "ma\u00dfe", "n/a",
]  # fmt: skip
AMOUNTS = ["0.99", "5.00", "5", "12.50", "12.5", "100.00", "250.75", "999.99", "2500", "40.10"]
SORTS = ["-date", "date", "-amount", "amount", "-created_at", "created_at"]
SortKey = tuple[Any, uuid.UUID]


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip()).casefold()


def sort_key(sort: str) -> Callable[[Json], SortKey]:
    field = sort.lstrip("-")

    def key(record: Json) -> SortKey:
        value: Any = record[field]
        if field == "amount":
            value = Decimal(value)
        elif field == "created_at":
            value = dt.datetime.fromisoformat(value)
        return value, uuid.UUID(record["id"])

    return key


def in_order(records: list[Json], sort: str) -> list[Json]:
    return sorted(records, key=sort_key(sort), reverse=sort.startswith("-"))


def random_body(rng: random.Random, dates: list[str]) -> Json:
    canonical = rng.choice(list(CATEGORY_SPELLINGS))
    words = rng.sample(NOTE_WORDS, rng.randint(0, 3))
    return {
        "amount": rng.choice(AMOUNTS),
        "type": rng.choice(["income", "expense"]),
        "category": rng.choice([canonical, *CATEGORY_SPELLINGS[canonical]]),
        "date": rng.choice(dates),
        "currency": rng.choice(["USD", "USD", "EUR"]),
        "notes": " ".join(words) if words else rng.choice([None, ""]),
    }


def date_pool(rng: random.Random) -> list[str]:
    start = dt.date(2024, 3, 1)
    return sorted({(start + dt.timedelta(days=rng.randrange(730))).isoformat() for _ in range(20)})


@pytest.fixture
async def dataset(app: FastAPI, world: World) -> list[Json]:
    """About sixty records with repeated dates and amounts, mixed-case categories, two
    currencies; every category first spelled canonically so its shown name is known."""
    rng = random.Random(SEED)
    dates = date_pool(rng)
    bodies = [record_body(category=name, date=dates[0]) for name in CATEGORY_SPELLINGS]
    bodies += [random_body(rng, dates) for _ in range(54)]
    return await seed_records(app, org_id=world.org_id, actor=world.analyst, bodies=bodies)


def matches(record: Json, query: dict[str, Any]) -> bool:
    """The listing's filters, written out by hand."""
    checks = [
        "type" not in query or record["type"] == query["type"],
        not query.get("category")
        or fold(record["category"]) in {fold(c) for c in query["category"]},
        "date_from" not in query or record["date"] >= query["date_from"],
        "date_to" not in query or record["date"] <= query["date_to"],
        "amount_min" not in query or Decimal(record["amount"]) >= Decimal(query["amount_min"]),
        "amount_max" not in query or Decimal(record["amount"]) <= Decimal(query["amount_max"]),
        "currency" not in query or record["currency"] == query["currency"].upper(),
        "q" not in query
        or fold(query["q"]) in fold(record["category"])
        or fold(query["q"]) in fold(record["notes"] or ""),
    ]
    return all(checks)


def random_query(rng: random.Random, dates: list[str]) -> dict[str, Any]:
    query: dict[str, Any] = {"sort": rng.choice(SORTS)}
    if rng.random() < 0.4:
        query["type"] = rng.choice(["income", "expense"])
    if rng.random() < 0.4:
        names = rng.sample(list(CATEGORY_SPELLINGS), rng.randint(1, 3))
        query["category"] = [rng.choice([n, *CATEGORY_SPELLINGS[n]]) for n in names]
    if rng.random() < 0.4:
        low, high = sorted(rng.sample(dates, 2))
        query.update(
            rng.choice([{"date_from": low}, {"date_to": high}, {"date_from": low, "date_to": high}])
        )
    if rng.random() < 0.4:
        low, high = sorted(rng.sample(AMOUNTS, 2), key=Decimal)
        query.update(
            rng.choice(
                [{"amount_min": low}, {"amount_max": high}, {"amount_min": low, "amount_max": high}]
            )
        )
    if rng.random() < 0.3:
        query["currency"] = rng.choice(["USD", "EUR", "eur"])
    if rng.random() < 0.3:
        query["q"] = rng.choice(
            ["COFFEE", "lunch", "%", "_", "/", "Food", "caf\u00e9", "MASSE", "x"]
        )
    return query


def as_params(query: dict[str, Any]) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = []
    for name, value in query.items():
        params.extend((name, item) for item in (value if isinstance(value, list) else [value]))
    return params


def ids(records: list[Json]) -> list[str]:
    return [record["id"] for record in records]


class TestFilters:
    async def test_random_filter_combinations_match_a_brute_force_filter(
        self,
        client: httpx.AsyncClient,
        world: World,
        dataset: list[Json],
        subtests: pytest.Subtests,
    ) -> None:
        rng = random.Random(SEED + 1)
        dates = sorted({record["date"] for record in dataset})
        for _ in range(30):
            query = random_query(rng, dates)
            expected = in_order([r for r in dataset if matches(r, query)], query["sort"])
            with subtests.test(query=query):
                served = await walk_records(
                    client,
                    org_id=world.org_id,
                    actor=world.viewer,
                    params=as_params(query),
                    limit=rng.randint(4, 40),
                )
                assert ids(served) == ids(expected)

    async def test_each_filter_alone_selects_something_and_not_everything(
        self,
        client: httpx.AsyncClient,
        world: World,
        dataset: list[Json],
        subtests: pytest.Subtests,
    ) -> None:
        queries: list[dict[str, Any]] = [
            {"type": "income"},
            {"category": ["FOOD", "rent"]},
            {"date_from": dataset[-1]["date"], "date_to": dataset[-1]["date"]},
            {"amount_min": "12.5", "amount_max": "12.50"},
            {"currency": "eur"},
            {"q": "%"},
            {"q": "under_"},
            {"q": "n/a"},
            {"q": "strasse"},
        ]
        for query in queries:
            expected = [r for r in dataset if matches(r, query)]
            with subtests.test(query=query):
                assert 0 < len(expected) < len(dataset)
                served = await walk_records(
                    client, org_id=world.org_id, actor=world.viewer, params=as_params(query)
                )
                assert ids(served) == ids(in_order(expected, "-date"))

    async def test_records_are_shown_with_the_first_spelling_of_their_category(
        self, client: httpx.AsyncClient, world: World, dataset: list[Json]
    ) -> None:
        served = await walk_records(client, org_id=world.org_id, actor=world.viewer)
        assert {record["category"] for record in served} == set(CATEGORY_SPELLINGS)
        assert len(served) == len(dataset)


class TestCursorWalk:
    async def test_every_sort_serves_each_record_once_in_order(
        self,
        client: httpx.AsyncClient,
        world: World,
        dataset: list[Json],
        subtests: pytest.Subtests,
    ) -> None:
        for key in ("date", "amount"):
            assert len({r[key] for r in dataset}) < len(dataset), f"no ties on {key}"
        for sort in SORTS:
            with subtests.test(sort=sort):
                served = await walk_records(
                    client, org_id=world.org_id, actor=world.viewer, params={"sort": sort}, limit=7
                )
                assert ids(served) == ids(in_order(dataset, sort))

    async def test_default_sort_is_newest_date_first(
        self, client: httpx.AsyncClient, world: World, dataset: list[Json]
    ) -> None:
        served = await walk_records(client, org_id=world.org_id, actor=world.viewer, limit=9)
        assert ids(served) == ids(in_order(dataset, "-date"))

    async def test_records_added_between_pages_never_cause_repeats_or_skips(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        dataset: list[Json],
        subtests: pytest.Subtests,
    ) -> None:
        rng = random.Random(SEED + 2)
        dates = sorted({record["date"] for record in dataset})
        original = set(ids(dataset))
        for sort in SORTS:
            with subtests.test(sort=sort):
                served: list[Json] = []
                params: dict[str, Any] = {"sort": sort, "limit": 12}
                while True:
                    response = await client.get(
                        records_url(world.org_id), params=params, headers=world.viewer.headers
                    )
                    assert response.status_code == 200, response.text
                    page = response.json()
                    served.extend(page["items"])
                    if page["next_cursor"] is None:
                        break
                    params["cursor"] = page["next_cursor"]
                    last = page["items"][-1]
                    tie = {key: last[key] for key in ("date", "amount", "currency")}
                    bodies = [random_body(rng, dates), {**random_body(rng, dates), **tie}]
                    await seed_records(app, org_id=world.org_id, actor=world.analyst, bodies=bodies)
                assert len(set(ids(served))) == len(served), "a record was served twice"
                assert original <= set(ids(served)), "an original record was skipped"
                assert served == in_order(served, sort), "pages are out of order"


class TestPaging:
    async def test_offset_pages_and_total(
        self, client: httpx.AsyncClient, world: World, dataset: list[Json]
    ) -> None:
        expected = ids(in_order(dataset, "amount"))
        served: list[str] = []
        for offset in range(0, len(dataset) + 10, 10):
            response = await client.get(
                records_url(world.org_id),
                params={"sort": "amount", "limit": 10, "offset": offset, "include_total": "true"},
                headers=world.viewer.headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["total"] == len(dataset)
            served.extend(ids(page["items"]))
        assert served == expected

    async def test_total_counts_the_filtered_records_and_is_omitted_unless_asked(
        self, client: httpx.AsyncClient, world: World, dataset: list[Json]
    ) -> None:
        url = records_url(world.org_id)
        query = {"type": "income", "currency": "USD"}
        response = await client.get(
            url, params={**query, "include_total": "true", "limit": 2}, headers=world.viewer.headers
        )
        assert response.json()["total"] == sum(matches(r, query) for r in dataset)
        plain = (await client.get(url, params={"limit": 2}, headers=world.viewer.headers)).json()
        assert set(plain) == {"items", "next_cursor"}
        assert len(plain["items"]) == 2
        last = await client.get(url, params={"limit": 200}, headers=world.viewer.headers)
        assert last.json()["next_cursor"] is None

    async def test_empty_org_lists_nothing(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.get(
            records_url(world.org_id),
            params={"include_total": "true"},
            headers=world.viewer.headers,
        )
        assert response.json() == {"items": [], "next_cursor": None, "total": 0}


class TestStatementCount:
    async def test_a_page_costs_the_same_statements_whatever_its_size(
        self, client: httpx.AsyncClient, world: World, dataset: list[Json], database: Database
    ) -> None:
        url = records_url(world.org_id)
        counts: dict[tuple[int, bool, bool], int] = {}
        for limit in (5, 200):
            for with_total in (False, True):
                for filtered in (False, True):
                    params: dict[str, Any] = {
                        "limit": limit,
                        "include_total": str(with_total).lower(),
                    }
                    if filtered:
                        params.update(category=["food", "rent"], q="e", sort="-amount")
                    with statements_counted(database) as statements:
                        response = await client.get(
                            url, params=params, headers=world.viewer.headers
                        )
                    assert response.status_code == 200
                    assert len(response.json()["items"]) <= limit
                    work = [sql for sql in statements if sql not in TRANSACTION_CONTROL]
                    counts[limit, with_total, filtered] = len(work)
        for with_total in (False, True):
            for filtered in (False, True):
                assert counts[5, with_total, filtered] == counts[200, with_total, filtered]
        assert counts[5, True, False] == counts[5, False, False] + 1
