"""The dashboard endpoints' contract: figures on hand-made data, validation and access."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates
from ledgerline.dashboard import service as dashboard_service
from tests.factories import Actor, World, error_fields, make_org, problem

Json = dict[str, Any]
ENDPOINTS = ["summary", "categories", "trends", "recent", "insights"]


class Org:
    """One org seen through the API by one actor."""

    def __init__(self, client: httpx.AsyncClient, org_id: uuid.UUID, actor: Actor) -> None:
        self.client, self.org_id, self.actor = client, org_id, actor

    async def create(self, day: str, kind: str, category: str, amount: str, **extra: str) -> Json:
        body = {"date": day, "type": kind, "category": category, "amount": amount, **extra}
        response = await self.client.post(
            f"/orgs/{self.org_id}/records", json=body, headers=self.actor.headers
        )
        assert response.status_code == 201, response.text
        created: Json = response.json()
        return created

    async def delete(self, record: Json) -> None:
        response = await self.client.delete(
            f"/orgs/{self.org_id}/records/{record['id']}", headers=self.actor.headers
        )
        assert response.status_code == 204, response.text

    async def restore(self, record: Json) -> None:
        response = await self.client.post(
            f"/orgs/{self.org_id}/records/{record['id']}/restore", headers=self.actor.headers
        )
        assert response.status_code == 200, response.text

    async def ask(self, endpoint: str, actor: Actor | None = None, **params: Any) -> httpx.Response:
        return await self.client.get(
            f"/orgs/{self.org_id}/dashboard/{endpoint}",
            params={k: v for k, v in params.items() if v is not None},
            headers=(actor or self.actor).headers,
        )

    async def get(self, endpoint: str, **params: Any) -> Any:
        response = await self.ask(endpoint, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def org(client: httpx.AsyncClient, world: World) -> Org:
    return Org(client, world.org_id, world.admin)


def totals(currency: str, income: str, expense: str, net: str, count: int) -> Json:
    return {
        "currency": currency,
        "total_income": income,
        "total_expense": expense,
        "net_balance": net,
        "record_count": count,
    }


class TestEmptyOrg:
    async def test_every_endpoint_answers_zeros_or_nothing(self, org: Org) -> None:
        assert await org.get("summary") == {
            **totals("USD", "0.00", "0.00", "0.00", 0),
            "by_currency": [],
        }
        assert await org.get("categories") == []
        assert await org.get("trends") == []
        assert await org.get("recent") == []
        insights = await org.get("insights")
        assert insights["monthly_expense"] == {"months": 0, "average": "0.00", "median": "0.00"}
        assert insights["top_expense_categories"] == []
        assert insights["month_over_month"] is None
        assert insights["largest_records"] == []

    async def test_a_closed_range_lists_its_empty_periods(self, org: Org) -> None:
        trends = await org.get("trends", date_from="2026-01-15", date_to="2026-03-01")
        assert [(p["period"], p["income"], p["expense"], p["net"]) for p in trends] == [
            ("2026-01", "0.00", "0.00", "0.00"),
            ("2026-02", "0.00", "0.00", "0.00"),
            ("2026-03", "0.00", "0.00", "0.00"),
        ]
        assert {p["currency"] for p in trends} == {"USD"}


class TestDeletedRecords:
    async def test_deleted_records_leave_every_figure_and_restored_ones_return(
        self, org: Org
    ) -> None:
        kept = await org.create("2026-03-01", "expense", "Food", "10.00")
        gone = await org.create("2026-03-02", "expense", "Food", "90.00")
        await org.delete(gone)

        assert (await org.get("summary"))["total_expense"] == "10.00"
        assert [c["total"] for c in await org.get("categories")] == ["10.00"]
        assert [p["expense"] for p in await org.get("trends")] == ["10.00"]
        assert [r["id"] for r in await org.get("recent")] == [kept["id"]]
        largest = (await org.get("insights"))["largest_records"]
        assert [r["id"] for r in largest] == [kept["id"]]

        await org.restore(gone)
        assert (await org.get("summary"))["total_expense"] == "100.00"
        assert [c["count"] for c in await org.get("categories")] == [2]
        assert [r["id"] for r in await org.get("recent")] == [gone["id"], kept["id"]]


class TestCurrencies:
    async def test_top_level_figures_are_in_the_org_currency_and_the_rest_per_currency(
        self, org: Org
    ) -> None:
        await org.create("2026-03-01", "income", "Salary", "100.00")
        await org.create("2026-03-01", "expense", "Food", "20.00", currency="EUR")
        await org.create("2026-03-02", "income", "Gift", "5.00", currency="EUR")
        await org.create("2026-03-02", "income", "Gift", "1500", currency="JPY")

        assert await org.get("summary") == {
            **totals("USD", "100.00", "0.00", "100.00", 1),
            "by_currency": [
                totals("EUR", "5.00", "20.00", "-15.00", 2),
                totals("JPY", "1500", "0", "1500", 1),
                totals("USD", "100.00", "0.00", "100.00", 1),
            ],
        }
        # Largest first by value, whatever the currency's minor unit.
        categories = await org.get("categories")
        assert [(c["category"], c["currency"], c["total"]) for c in categories] == [
            ("Gift", "JPY", "1500"),
            ("Salary", "USD", "100.00"),
            ("Food", "EUR", "20.00"),
            ("Gift", "EUR", "5.00"),
        ]
        trends = await org.get("trends")
        assert [(p["period"], p["currency"], p["net"]) for p in trends] == [
            ("2026-03", "EUR", "-15.00"),
            ("2026-03", "JPY", "1500"),
            ("2026-03", "USD", "100.00"),
        ]

    async def test_an_org_without_records_in_its_currency_answers_zeros_in_it(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        euro_org = Org(client, await make_org(app, owner=world.admin, currency="EUR"), world.admin)
        await euro_org.create("2026-03-01", "income", "Salary", "7.00", currency="USD")
        summary = await euro_org.get("summary")
        assert summary["currency"] == "EUR"
        assert (summary["total_income"], summary["record_count"]) == ("0.00", 0)
        assert summary["by_currency"] == [totals("USD", "7.00", "0.00", "7.00", 1)]


class TestTrends:
    async def test_weeks_are_iso_weeks_across_a_year_end(self, org: Org) -> None:
        await org.create("2020-12-31", "expense", "Food", "1.00")
        await org.create("2021-01-01", "expense", "Food", "2.00")
        await org.create("2021-01-04", "expense", "Food", "4.00")
        await org.create("2021-01-18", "income", "Salary", "8.00")

        trends = await org.get("trends", granularity="week")
        assert [(p["period"], p["income"], p["expense"]) for p in trends] == [
            ("2020-W53", "0.00", "3.00"),
            ("2021-W01", "0.00", "4.00"),
            ("2021-W02", "0.00", "0.00"),
            ("2021-W03", "8.00", "0.00"),
        ]

    async def test_days_and_months_fill_empty_periods_between_the_bounds(self, org: Org) -> None:
        await org.create("2024-01-31", "expense", "Food", "1.00")
        await org.create("2024-04-01", "income", "Salary", "3.00")

        months = await org.get("trends")
        assert [p["period"] for p in months] == ["2024-01", "2024-02", "2024-03", "2024-04"]
        assert [p["net"] for p in months] == ["-1.00", "0.00", "0.00", "3.00"]
        days = await org.get("trends", granularity="day", date_from="2024-03-30")
        assert [(p["period"], p["net"]) for p in days] == [
            ("2024-03-30", "0.00"),
            ("2024-03-31", "0.00"),
            ("2024-04-01", "3.00"),
        ]

    async def test_more_than_3660_periods_is_refused(self, org: Org) -> None:
        first = dt.date(2000, 1, 1)
        ok = await org.ask(
            "trends",
            granularity="day",
            date_from=first.isoformat(),
            date_to=(first + dt.timedelta(days=3659)).isoformat(),
        )
        assert ok.status_code == 200
        assert len(ok.json()) == 3660
        too_many = await org.ask(
            "trends", granularity="day", date_from="2000-01-01", date_to="2010-12-31"
        )
        assert error_fields(too_many) == {"query.granularity"}
        assert (await org.ask("trends", date_from="2000-01-01", date_to="2010-12-31")).is_success

    async def test_records_far_apart_with_open_bounds_are_refused_by_day(self, org: Org) -> None:
        await org.create("2000-01-01", "expense", "Food", "1.00")
        await org.create("2011-01-01", "expense", "Food", "1.00")
        assert error_fields(await org.ask("trends", granularity="day")) == {"query.granularity"}
        assert (await org.ask("trends", granularity="week")).is_success


class TestValidation:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_date_from_after_date_to_is_refused(self, org: Org, endpoint: str) -> None:
        response = await org.ask(endpoint, date_from="2026-03-02", date_to="2026-03-01")
        assert error_fields(response) == {"query.date_to"}

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    @pytest.mark.parametrize("written", ["0", "20260301", "2026-03-01T00:00:00"])
    async def test_a_date_not_written_as_yyyy_mm_dd_is_refused(
        self, org: Org, endpoint: str, written: str
    ) -> None:
        """Not read as a Unix timestamp (``0`` would be 1 January 1970) or a datetime."""
        response = await org.ask(endpoint, date_to=written)
        assert error_fields(response) == {"query.date_to"}
        assert problem(response, 422)["errors"] == [
            {"field": "query.date_to", "message": "must be a date as YYYY-MM-DD"}
        ]

    @pytest.mark.parametrize("limit", [0, 51, -1])
    async def test_recent_limit_outside_1_to_50_is_refused(self, org: Org, limit: int) -> None:
        assert error_fields(await org.ask("recent", limit=limit)) == {"query.limit"}

    async def test_recent_limit_bounds_are_accepted(self, org: Org) -> None:
        records = [await org.create(f"2026-03-{d:02d}", "income", "Pay", "1.00") for d in (1, 2)]
        assert [r["id"] for r in await org.get("recent", limit=1)] == [records[1]["id"]]
        assert len(await org.get("recent", limit=50)) == 2

    async def test_unknown_granularity_and_type_are_refused(self, org: Org) -> None:
        assert error_fields(await org.ask("trends", granularity="year")) == {"query.granularity"}
        assert error_fields(await org.ask("categories", type="gift")) == {"query.type"}


class TestAccess:
    @pytest.mark.parametrize("endpoint", ["summary", "categories", "trends", "recent"])
    async def test_a_viewer_reads_the_dashboard(
        self, org: Org, world: World, endpoint: str
    ) -> None:
        assert (await org.ask(endpoint, actor=world.viewer)).status_code == 200

    async def test_insights_are_forbidden_to_a_viewer(self, org: Org, world: World) -> None:
        problem(await org.ask("insights", actor=world.viewer), 403)

    async def test_insights_are_allowed_to_an_analyst(self, org: Org, world: World) -> None:
        assert (await org.ask("insights", actor=world.analyst)).status_code == 200

    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    async def test_an_outsider_does_not_find_the_org(
        self, org: Org, world: World, endpoint: str
    ) -> None:
        problem(await org.ask(endpoint, actor=world.outsider), 404)


class TestInsights:
    @pytest.fixture
    async def dataset(self, org: Org) -> dict[str, Json]:
        """Expenses per month of 2024: Jan 1250.49, Feb 99.53, Mar 300.00, Apr 1500.00."""
        created = {
            "before": await org.create("2023-12-10", "expense", "Rent", "5000.00"),
            "jan_pay": await org.create("2024-01-05", "income", "Salary", "3000.00"),
            "jan_rent": await org.create("2024-01-10", "expense", "Rent", "1000.00"),
            "jan_food": await org.create("2024-01-20", "expense", "Food", "250.49"),
            "feb_food": await org.create("2024-02-15", "expense", "food", "99.53"),
            "mar_pay": await org.create("2024-03-01", "income", "Salary", "3000.00"),
            "mar_food": await org.create("2024-03-05", "expense", "FOOD", "300.00"),
            "apr_pay": await org.create("2024-04-01", "income", "Salary", "3200.00"),
            "apr_rent": await org.create("2024-04-03", "expense", "Rent", "1100.00"),
            "apr_travel": await org.create("2024-04-09", "expense", "Travel", "400.00"),
            "euro": await org.create("2024-02-01", "expense", "Rent", "7000.00", currency="EUR"),
            "deleted": await org.create("2024-02-02", "expense", "Rent", "9999.00"),
        }
        await org.delete(created["deleted"])
        return created

    async def test_figures_of_a_four_month_period(self, org: Org, dataset: dict[str, Json]) -> None:
        insights = await org.get("insights", date_from="2024-01-01", date_to="2024-04-30")
        assert (insights["currency"], insights["date_from"], insights["date_to"]) == (
            "USD",
            "2024-01-01",
            "2024-04-30",
        )
        # 315002 cents over 4 months is 78750.5 and the middle pair 30000 and 125049 average
        # 77524.5: both round half to even.
        assert insights["monthly_expense"] == {
            "months": 4,
            "average": "787.50",
            "median": "775.24",
        }
        assert insights["top_expense_categories"] == [
            {"category": "Rent", "total": "2100.00", "share": "66.67"},
            {"category": "Food", "total": "650.02", "share": "20.64"},
            {"category": "Travel", "total": "400.00", "share": "12.70"},
        ]
        assert insights["month_over_month"] == {
            "month": "2024-04",
            "previous_month": "2024-03",
            "income": {
                "current": "3200.00",
                "previous": "3000.00",
                "change": "200.00",
                "percent": "6.67",
            },
            "expense": {
                "current": "1500.00",
                "previous": "300.00",
                "change": "1200.00",
                "percent": "400.00",
            },
        }
        assert [r["id"] for r in insights["largest_records"]] == [
            dataset[name]["id"]
            for name in ("apr_pay", "mar_pay", "jan_pay", "apr_rent", "jan_rent")
        ]

    async def test_the_previous_month_counts_whole_when_the_period_cuts_it(
        self, org: Org, dataset: dict[str, Json]
    ) -> None:
        insights = await org.get("insights", date_from="2024-03-15", date_to="2024-04-30")
        assert insights["monthly_expense"] == {"months": 2, "average": "750.00", "median": "750.00"}
        expense = insights["month_over_month"]["expense"]
        assert (expense["previous"], expense["percent"]) == ("300.00", "400.00")
        income = insights["month_over_month"]["income"]
        assert (income["previous"], income["change"]) == ("3000.00", "200.00")

    async def test_the_previous_month_before_the_period_is_read_too(
        self, org: Org, dataset: dict[str, Json]
    ) -> None:
        insights = await org.get("insights", date_from="2024-02-01", date_to="2024-02-29")
        assert insights["monthly_expense"] == {"months": 1, "average": "99.53", "median": "99.53"}
        mom = insights["month_over_month"]
        assert (mom["month"], mom["previous_month"]) == ("2024-02", "2024-01")
        assert mom["expense"] == {
            "current": "99.53",
            "previous": "1250.49",
            "change": "-1150.96",
            "percent": "-92.04",
        }
        assert mom["income"]["percent"] == "-100.00"

    async def test_open_bounds_are_the_first_and_last_record_of_the_currency(
        self, org: Org, dataset: dict[str, Json]
    ) -> None:
        insights = await org.get("insights")
        assert (insights["date_from"], insights["date_to"]) == ("2023-12-10", "2024-04-09")
        assert insights["monthly_expense"]["months"] == 5
        euro = await org.get("insights", currency="eur")
        assert (euro["currency"], euro["date_from"], euro["date_to"]) == (
            "EUR",
            "2024-02-01",
            "2024-02-01",
        )
        assert euro["top_expense_categories"] == [
            {"category": "Rent", "total": "7000.00", "share": "100.00"}
        ]
        assert euro["month_over_month"]["expense"]["percent"] is None

    async def test_a_change_too_small_to_show_is_zero_percent(self, org: Org) -> None:
        await org.create("2024-01-10", "expense", "Rent", "1000000.00")
        await org.create("2024-02-10", "expense", "Rent", "999999.99")
        expense = (await org.get("insights"))["month_over_month"]["expense"]
        assert (expense["change"], expense["percent"]) == ("-0.01", "0.00")


class TestLargestRecords:
    """A large period's largest records are found by walking the amounts down, a sparse one's by
    sorting it; both give the same answer (the limits are lowered to reach each way)."""

    @pytest.fixture
    async def spread(self, org: Org) -> list[Json]:
        records = []
        for month, amounts in [(1, ["900.00", "5.00"]), (2, ["7.00", "6.00", "800.00"])]:
            for day, amount in enumerate(amounts, start=1):
                records.append(
                    await org.create(f"2024-{month:02d}-{day:02d}", "expense", "A", amount)
                )
        records.append(await org.create("2024-02-09", "income", "B", "6.00"))
        records.append(await org.create("2024-02-10", "income", "B", "50.00", currency="EUR"))
        return records

    @pytest.mark.parametrize(
        ("scan_limit", "walk_limit", "first_page"),
        [(2_000, 10_000, 256), (0, 10_000, 256), (0, 10_000, 1), (0, 4, 1), (0, 4, 256), (0, 1, 1)],
    )
    async def test_every_way_finds_the_same_records(
        self,
        org: Org,
        spread: list[Json],
        monkeypatch: pytest.MonkeyPatch,
        scan_limit: int,
        walk_limit: int,
        first_page: int,
    ) -> None:
        monkeypatch.setattr(dashboard_service, "DATE_SCAN_LIMIT", scan_limit)
        monkeypatch.setattr(dashboard_service, "AMOUNT_WALK_LIMIT", walk_limit)
        monkeypatch.setattr(dashboard_service, "WALK_FIRST_PAGE", first_page)
        feb = await org.get("insights", date_from="2024-02-01", date_to="2024-02-29")
        assert [r["amount"] for r in feb["largest_records"]] == ["800.00", "7.00", "6.00", "6.00"]
        ties = [r["id"] for r in feb["largest_records"][2:]]
        assert ties == sorted(ties, reverse=True)
        everything = await org.get("insights")
        assert [r["amount"] for r in everything["largest_records"]] == [
            "900.00",
            "800.00",
            "7.00",
            "6.00",
            "6.00",
        ]
        assert (await org.get("insights", date_from="2024-03-01"))["largest_records"] == []


class TestLargeAmounts:
    async def test_three_maximum_amounts_sum_exactly(self, org: Org, database: Database) -> None:
        for _ in range(3):
            await org.create("2026-03-01", "expense", "Rent", "999999999999.99")
        summary = await org.get("summary")
        assert summary["total_expense"] == "2999999999999.97"
        assert summary["net_balance"] == "-2999999999999.97"
        assert [c["total"] for c in await org.get("categories")] == ["2999999999999.97"]
        assert [p["expense"] for p in await org.get("trends", granularity="day")] == [
            "2999999999999.97"
        ]
        insights = await org.get("insights")
        assert insights["monthly_expense"]["average"] == "2999999999999.97"
        async with database.sessions() as session:
            assert await aggregates.find_drift(session, org.org_id) == []

    async def test_the_median_of_huge_months_is_exact(self, org: Org) -> None:
        # CLF has four decimals: two records a month pass 2**53 minor units, where the middle
        # pair's float average would be off by two units.
        for day, amount in [
            ("2026-01-01", "999999999999.9999"),
            ("2026-01-02", "999999999999.9999"),
            ("2026-02-01", "999999999999.9999"),
            ("2026-02-02", "999999999999.9998"),
        ]:
            await org.create(day, "expense", "Rent", amount, currency="CLF")
        insights = await org.get("insights", currency="CLF")
        assert insights["monthly_expense"] == {
            "months": 2,
            "average": "1999999999999.9998",
            "median": "1999999999999.9998",
        }
