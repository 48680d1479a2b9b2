"""The records page's totals: from the aggregates where the filters allow, equal to summing the
records themselves, for every kind of filter."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.records import queries
from ledgerline.records import service as records_service
from ledgerline.records.schemas import RecordFilters
from tests.conftest import api_client
from tests.factories import World

RECORDS = [
    ("2025-01-31", "expense", "Rent", "1000.00", "USD"),
    ("2025-02-01", "expense", "rent", "1000.00", "USD"),
    ("2025-02-14", "expense", "Food", "12.34", "USD"),
    ("2025-02-28", "income", "Salary", "5000.00", "USD"),
    ("2025-03-01", "expense", "Food", "7.66", "EUR"),
    ("2025-03-15", "income", "Sales", "99.99", "EUR"),
    ("2025-04-30", "expense", "Travel", "0.01", "JPY"),
]

FILTERS: list[dict[str, Any]] = [
    {},
    {"date_from": "2025-02-01"},
    {"date_to": "2025-02-28"},
    {"date_from": "2025-01-15", "date_to": "2025-03-10"},
    {"date_from": "2025-02-01", "date_to": "2025-02-28", "type": "expense"},
    {"category": ["RENT"]},
    {"category": ["food", "Salary"], "date_from": "2025-02-10"},
    {"category": ["nothing"]},
    {"currency": "EUR"},
    {"type": "income", "currency": "USD"},
    {"amount_min": "10", "amount_max": "1000"},
    {"q": "foo"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
async def test_totals_equal_the_sum_of_the_records(
    app: FastAPI, world: World, filters: dict[str, Any]
) -> None:
    async with api_client(app) as api:
        for day, kind, category, amount, currency in RECORDS:
            response = await api.post(
                f"/orgs/{world.org_id}/records",
                json={
                    "date": day,
                    "type": kind,
                    "category": category,
                    "amount": amount,
                    "currency": currency if currency != "JPY" else "USD",
                },
                headers=world.analyst.headers,
            )
            assert response.status_code == 201, response.text
    database: Database = app.state.database
    async with database.sessions() as session:
        org = await session.get_one(Org, world.org_id)
        ctx = OrgContext(
            org=OrgRead.model_validate(org), user_id=world.analyst.user_id, role=Role.ANALYST
        )
        parsed = RecordFilters.model_validate(filters)
        from_records = await queries.totals(session, world.org_id, parsed)
        shown = await records_service.view_totals(session, ctx, parsed)
    assert shown == from_records
