"""Answers made of several statements' figures read them in one snapshot: a record created
while such an answer is being read, just before its last statement, shows in none of its
parts, so the parts agree (the insights' totals with their largest records, a balance series
with its opening balance, a list with its total, a dashboard page's cards with its charts).

Without the snapshot each statement would read the commits made by its own start: the last
one would see the new record and the earlier ones not.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.util import await_

from ledgerline.core.db import Database
from tests.factories import World
from tests.records.helpers import create_record, record_body
from tests.statements import statements_counted
from tests.web.helpers import signed_in

PERIOD = {"date_from": "2026-01-01", "date_to": "2026-06-30"}


@contextmanager
def written_before_statement(
    database: Database, number: int, write: Callable[[], Awaitable[object]]
) -> Iterator[None]:
    """Run ``write`` to its commit, in a task of its own, just before the ``number``-th
    statement (from 1) of what runs next, which waits for it."""
    seen = 0

    def before(*_: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == number:
            await_(asyncio.ensure_future(write()))

    engines = {database.engine.sync_engine, database.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)


Read = Callable[[], Awaitable[httpx.Response]]


async def assert_one_moment(
    database: Database,
    read: Read,
    write: Callable[[], Awaitable[object]],
    figures: Callable[[httpx.Response], object] = httpx.Response.json,
) -> None:
    """With ``write`` committing before each of ``read``'s statements in turn (the guard's
    first excepted), the answer is the one read before the write or the one read after,
    never a mix of the two."""
    with statements_counted(database) as statements:
        (await read()).raise_for_status()
    assert len(statements) >= 3, f"one statement, or the guard's and one: {statements}"
    for number in range(2, len(statements) + 1):
        before = figures(await read())
        with written_before_statement(database, number, write):
            during = await read()
        after = figures(await read())
        assert during.status_code == 200, during.text
        assert after != before, "the write changes the answer"
        assert figures(during) in (before, after), f"the write before statement {number} shows"


Write = Callable[[], Awaitable[object]]


def _new_record(client: httpx.AsyncClient, world: World) -> Write:
    async def write() -> object:
        return await create_record(
            client,
            org_id=world.org_id,
            actor=world.analyst,
            **record_body(amount="777.77", category="Snapshot", date="2026-04-15"),
        )

    return write


def _record_moved_across_the_start(
    client: httpx.AsyncClient, world: World, record_id: str
) -> Write:
    """Each call moves the record from the period's middle to before it, or back: its amount
    leaves the period's changes and joins the opening balance at once, which changes the
    balance at the end of the months between."""
    days = iter(["2026-03-20", "2025-12-15"] * 100)

    async def write() -> object:
        response = await client.patch(
            f"/orgs/{world.org_id}/records/{record_id}",
            json={"date": next(days)},
            headers=world.analyst.headers,
        )
        response.raise_for_status()
        return response

    return write


@pytest.fixture
async def recorded(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    return [
        await create_record(
            client, org_id=world.org_id, actor=world.admin, amount=amount, type=kind, date=day
        )
        for day, amount, kind in (
            ("2026-01-10", "100.00", "income"),
            ("2026-02-10", "40.00", "expense"),
            ("2026-03-10", "25.00", "expense"),
        )
    ]


@pytest.mark.usefixtures("recorded")
class TestTheApisAnswers:
    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/dashboard/insights", PERIOD),
            ("/records", {"include_total": "true"}),
        ],
    )
    async def test_read_in_one_snapshot(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        path: str,
        params: dict[str, str],
    ) -> None:
        url = f"/orgs/{world.org_id}{path}"

        async def read() -> httpx.Response:
            return await client.get(url, params=params, headers=world.admin.headers)

        await assert_one_moment(app.state.database, read, _new_record(client, world))

    @pytest.mark.parametrize("by", [None, "account"])
    async def test_net_worth_with_its_opening_balances(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        recorded: list[dict[str, Any]],
        by: str | None,
    ) -> None:
        url = f"/orgs/{world.org_id}/dashboard/balances"
        params = PERIOD if by is None else {**PERIOD, "by": by}

        async def read() -> httpx.Response:
            return await client.get(url, params=params, headers=world.admin.headers)

        write = _record_moved_across_the_start(client, world, recorded[0]["id"])
        await assert_one_moment(app.state.database, read, write)

    async def test_an_accounts_balance_series(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        recorded: list[dict[str, Any]],
    ) -> None:
        moved = recorded[0]
        url = f"/orgs/{world.org_id}/accounts/{moved['account_id']}/balances"

        async def read() -> httpx.Response:
            return await client.get(url, params=PERIOD, headers=world.admin.headers)

        write = _record_moved_across_the_start(client, world, moved["id"])
        await assert_one_moment(app.state.database, read, write)


_PER_RENDERING = re.compile(
    r'(name="csrf_token" value=|<meta name="csrf-token" content=)"[^"]*"|<code>[0-9a-f]{32}</code>'
)


def _figures(page: httpx.Response) -> str:
    """The page without what differs between two renderings of the same figures (its form
    tokens, the request's id)."""
    return _PER_RENDERING.sub("", page.text)


@pytest.mark.usefixtures("recorded")
@pytest.mark.parametrize("page", ["dashboard", "records"])
async def test_a_page_reads_its_figures_in_one_snapshot(
    app: FastAPI, client: httpx.AsyncClient, world: World, page: str
) -> None:
    params = {"period": "custom", **PERIOD} if page == "dashboard" else {}
    async with signed_in(app, world.admin.email) as browser:

        async def read() -> httpx.Response:
            return await browser.get(f"/orgs/{world.org_id}/{page}", params=params)

        await assert_one_moment(app.state.database, read, _new_record(client, world), _figures)
