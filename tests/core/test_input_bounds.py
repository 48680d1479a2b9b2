"""Dates and cursors at and beyond the ends of the calendar the API takes (1900-01-01 to
2199-12-31): every one is an answer or a 4xx, never a 500 from date arithmetic."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import World, error_fields, problem
from tests.records.helpers import audit_log, create_record, records_url, tampered

FIRST_DAY = "1900-01-01"
LAST_DAY = "2199-12-31"
OUT_OF_RANGE_DATES = ["1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31"]
EXTREME_TIMESTAMPS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59.999999+00:00",
]
DASHBOARD_VIEWS = ["summary", "categories", "trends", "recent", "insights"]


class TestDatesOutsideTheCalendar:
    @pytest.mark.parametrize("day", OUT_OF_RANGE_DATES)
    @pytest.mark.parametrize("bound", ["date_from", "date_to"])
    async def test_audit_date_filter_is_a_422(
        self, client: httpx.AsyncClient, world: World, bound: str, day: str
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/audit", params={bound: day}, headers=world.admin.headers
        )
        problem(response, 422)
        assert error_fields(response) == {f"query.{bound}"}

    async def test_audit_of_the_last_day_answers(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/audit",
            params={"date_from": FIRST_DAY, "date_to": LAST_DAY},
            headers=world.admin.headers,
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("day", OUT_OF_RANGE_DATES)
    @pytest.mark.parametrize("view", DASHBOARD_VIEWS)
    async def test_dashboard_date_filter_is_a_422(
        self, client: httpx.AsyncClient, world: World, view: str, day: str
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/{view}",
            params={"date_to": day},
            headers=world.admin.headers,
        )
        problem(response, 422)


class TestPeriodsAtTheEndsOfTheCalendar:
    @pytest.fixture
    async def edge_records(self, client: httpx.AsyncClient, world: World) -> None:
        for day in (FIRST_DAY, LAST_DAY):
            await create_record(client, org_id=world.org_id, actor=world.admin, date=day)

    @pytest.mark.usefixtures("edge_records")
    @pytest.mark.parametrize("granularity", ["day", "week", "month"])
    @pytest.mark.parametrize(
        "dates",
        [
            {},
            {"date_from": FIRST_DAY, "date_to": "1900-01-20"},
            {"date_from": "2199-12-10", "date_to": LAST_DAY},
        ],
    )
    async def test_trends_answer(
        self,
        client: httpx.AsyncClient,
        world: World,
        granularity: str,
        dates: dict[str, str],
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/trends",
            params={"granularity": granularity, **dates},
            headers=world.admin.headers,
        )
        if not dates and granularity != "month":
            problem(response, 422)  # three centuries of days or weeks: too many periods
            return
        assert response.status_code == 200, response.text
        assert response.json()

    @pytest.mark.usefixtures("edge_records")
    @pytest.mark.parametrize(
        "dates",
        [
            {},
            {"date_to": "1900-01-31"},
            {"date_from": FIRST_DAY, "date_to": "1900-01-15"},
            {"date_from": "1900-01-10", "date_to": "1900-01-20"},
            {"date_from": "2199-12-05", "date_to": LAST_DAY},
            {"date_from": LAST_DAY},
        ],
    )
    @pytest.mark.parametrize("view", DASHBOARD_VIEWS)
    async def test_every_view_answers(
        self, client: httpx.AsyncClient, world: World, view: str, dates: dict[str, str]
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/{view}", params=dates, headers=world.admin.headers
        )
        assert response.status_code == 200, response.text

    @pytest.mark.usefixtures("edge_records")
    async def test_insights_ending_in_january_1900_compare_with_an_empty_month(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(
            f"/orgs/{world.org_id}/dashboard/insights",
            params={"date_from": "1900-01-10", "date_to": "1900-01-31"},
            headers=world.admin.headers,
        )
        assert response.status_code == 200, response.text
        change = response.json()["month_over_month"]
        assert change["month"] == "1900-01"
        assert change["previous_month"] == "1899-12"
        assert change["expense"]["previous"] == "0.00"


class TestForgedCursorPositions:
    @pytest.fixture
    async def first_page_cursor(self, client: httpx.AsyncClient, world: World) -> str:
        for _ in range(2):
            await create_record(client, org_id=world.org_id, actor=world.admin)
        response = await client.get(
            records_url(world.org_id),
            params={"sort": "-created_at", "limit": 1},
            headers=world.admin.headers,
        )
        cursor: str = response.json()["next_cursor"]
        return cursor

    @pytest.mark.parametrize("timestamp", EXTREME_TIMESTAMPS)
    async def test_record_cursor_at_the_ends_of_time_answers_or_is_a_400(
        self, client: httpx.AsyncClient, world: World, first_page_cursor: str, timestamp: str
    ) -> None:
        forged = tampered(first_page_cursor, [timestamp, str(world.org_id)])
        response = await client.get(
            records_url(world.org_id),
            params={"sort": "-created_at", "limit": 1, "cursor": forged},
            headers=world.admin.headers,
        )
        assert response.status_code in {200, 400}, response.text

    @pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
    async def test_record_cursor_at_the_ends_of_the_calendar_answers(
        self, client: httpx.AsyncClient, world: World, day: str
    ) -> None:
        for _ in range(2):
            await create_record(client, org_id=world.org_id, actor=world.admin)
        first = await client.get(
            records_url(world.org_id), params={"limit": 1}, headers=world.admin.headers
        )
        forged = tampered(first.json()["next_cursor"], [day, str(world.org_id)])
        response = await client.get(
            records_url(world.org_id),
            params={"limit": 1, "cursor": forged},
            headers=world.admin.headers,
        )
        assert response.status_code in {200, 400}, response.text

    @pytest.mark.parametrize("timestamp", EXTREME_TIMESTAMPS)
    async def test_audit_cursor_at_the_ends_of_time_answers_or_is_a_400(
        self, client: httpx.AsyncClient, world: World, timestamp: str
    ) -> None:
        for _ in range(2):
            await create_record(client, org_id=world.org_id, actor=world.admin)
        assert len(await audit_log(client, org_id=world.org_id, admin=world.admin)) == 2
        first = await client.get(
            f"/orgs/{world.org_id}/audit", params={"limit": 1}, headers=world.admin.headers
        )
        forged = tampered(first.json()["next_cursor"], [timestamp, str(world.org_id)])
        response = await client.get(
            f"/orgs/{world.org_id}/audit",
            params={"limit": 1, "cursor": forged},
            headers=world.admin.headers,
        )
        assert response.status_code in {200, 400}, response.text
