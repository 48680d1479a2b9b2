"""Migrations run up and down on every backend, and leave exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    Uuid,
    insert,
    inspect,
    select,
)
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from ledgerline.accounts import balances as account_balances
from ledgerline.accounts.models import Account
from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.dashboard.models import DailyTypeTotal, MonthlyTotal
from ledgerline.models import metadata
from ledgerline.orgs.models import Org
from ledgerline.records.models import Category, Record
from tests.conftest import empty_database_url


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    yield from empty_database_url(backend, tmp_path, "migrations")


async def _run(connection_work: Any, url: str) -> Any:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(connection_work)
    finally:
        await database.dispose()


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def tables(url: str) -> set[str]:
    names: set[str] = await _run(_table_names, url)
    return names


async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrations.upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(migrations.downgrade, url, revision)


def revisions(url: str) -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrations.alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


class TestUpAndDown:
    async def test_upgrade_downgrade_and_upgrade_again(self, fresh_url: str) -> None:
        model_tables = set(metadata.tables)
        await upgrade(fresh_url)
        assert await tables(fresh_url) == model_tables | {"alembic_version"}
        await downgrade(fresh_url, "base")
        assert await tables(fresh_url) == {"alembic_version"}
        await upgrade(fresh_url)
        assert await tables(fresh_url) == model_tables | {"alembic_version"}

    async def test_each_revision_goes_down_and_up_again(self, fresh_url: str) -> None:
        chain = revisions(fresh_url)
        assert chain, "no migrations found"
        for revision in chain:
            await upgrade(fresh_url, revision)
            before = await tables(fresh_url)
            await downgrade(fresh_url, "-1")
            await upgrade(fresh_url, revision)
            assert await tables(fresh_url) == before, f"{revision} does not round-trip"

    async def test_app_refuses_a_database_behind_the_code(self, fresh_url: str) -> None:
        chain = revisions(fresh_url)
        await upgrade(fresh_url, chain[0])
        database = Database(fresh_url)
        try:
            if len(chain) > 1:
                with pytest.raises(migrations.DatabaseNotMigrated):
                    await migrations.ensure_current(database)
            await upgrade(fresh_url)
            await migrations.ensure_current(database)
        finally:
            await database.dispose()


class TestModelsMatchMigrations:
    # SQLite's reflection skips expression indexes (records.ix_records_notes), and Alembic
    # then skips comparing them, each with a warning; PostgreSQL's compares them.
    @pytest.mark.filterwarnings(
        "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning"
    )
    @pytest.mark.filterwarnings(
        "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning"
    )
    async def test_autogenerate_finds_no_difference(self, fresh_url: str) -> None:
        await upgrade(fresh_url)
        differences = await _run(_schema_differences, fresh_url)
        assert differences == [], "models and migrations disagree; write a migration"


class TestCoarserAggregatesMigration:
    """0005 fills the monthly and per-type daily aggregates from the daily ones."""

    async def test_existing_daily_totals_are_rolled_up(self, fresh_url: str) -> None:
        await upgrade(fresh_url, "0004")
        org_id, food, rent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        daily = [
            (dt.date(2026, 1, 3), "expense", food, "USD", 1, 10, 2),
            (dt.date(2026, 1, 3), "expense", rent, "USD", 0, 5, 1),
            (dt.date(2026, 1, 31), "expense", food, "USD", 0, 7, 1),
            (dt.date(2026, 2, 1), "expense", food, "USD", 0, 1, 1),
            (dt.date(2026, 1, 3), "income", food, "EUR", 0, 9, 3),
        ]
        database = Database(fresh_url)
        try:
            async with database.sessions() as session:
                now = dt.datetime.now(dt.UTC)
                await session.execute(
                    insert(Org).values(
                        id=org_id, name="Old", currency="USD", created_at=now, updated_at=now
                    )
                )
                await session.execute(
                    insert(Category).values(
                        [
                            {"id": food, "org_id": org_id, "name": "Food", "name_key": "food"},
                            {"id": rent, "org_id": org_id, "name": "Rent", "name_key": "rent"},
                        ]
                    )
                )
                daily_at_0004 = sa_table(
                    "daily_totals",
                    *(sa_column(name, Uuid()) for name in ("org_id", "category_id")),
                    sa_column("day", Date()),
                    *(sa_column(name, String()) for name in ("type", "currency")),
                    *(
                        sa_column(name, BigInteger())
                        for name in ("total_high", "total_low", "record_count")
                    ),
                )
                await session.execute(
                    insert(daily_at_0004).values(
                        [
                            dict(
                                zip(
                                    (
                                        "day",
                                        "type",
                                        "category_id",
                                        "currency",
                                        "total_high",
                                        "total_low",
                                        "record_count",
                                    ),
                                    row,
                                    strict=True,
                                ),
                                org_id=org_id,
                            )
                            for row in daily
                        ]
                    )
                )
                await session.commit()
            await upgrade(fresh_url, "0005")
            async with database.sessions() as session:
                monthly = (
                    await session.execute(
                        select(
                            MonthlyTotal.month,
                            MonthlyTotal.type,
                            MonthlyTotal.category_id,
                            MonthlyTotal.currency,
                            MonthlyTotal.total_high,
                            MonthlyTotal.total_low,
                            MonthlyTotal.record_count,
                        )
                    )
                ).all()
                by_type = (
                    await session.execute(
                        select(
                            DailyTypeTotal.day,
                            DailyTypeTotal.type,
                            DailyTypeTotal.currency,
                            DailyTypeTotal.total_high,
                            DailyTypeTotal.total_low,
                            DailyTypeTotal.record_count,
                        )
                    )
                ).all()
        finally:
            await database.dispose()
        january, february = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
        assert sorted(map(tuple, monthly), key=repr) == sorted(
            [
                (january, "expense", food, "USD", 1, 17, 3),
                (january, "expense", rent, "USD", 0, 5, 1),
                (february, "expense", food, "USD", 0, 1, 1),
                (january, "income", food, "EUR", 0, 9, 3),
            ],
            key=repr,
        )
        assert sorted(map(tuple, by_type), key=repr) == sorted(
            [
                (dt.date(2026, 1, 3), "expense", "USD", 1, 15, 3),
                (dt.date(2026, 1, 31), "expense", "USD", 0, 7, 1),
                (february, "expense", "USD", 0, 1, 1),
                (dt.date(2026, 1, 3), "income", "EUR", 0, 9, 3),
            ],
            key=repr,
        )


class TestAccountsMigration:
    """0007 moves every record into a default account of its org and currency, fills the
    balance aggregates, and goes back down leaving the records as they were."""

    RECORDS = (
        # org, currency, type, minor, date, deleted
        ("multi", "USD", "income", 10_000, dt.date(2026, 1, 5), False),
        ("multi", "USD", "expense", 2_550, dt.date(2026, 2, 1), False),
        ("multi", "USD", "expense", 99_999, dt.date(2026, 2, 2), True),
        ("multi", "EUR", "expense", 700, dt.date(2025, 12, 31), False),
        ("multi", "JPY", "income", 5_000, dt.date(2026, 3, 1), False),
        ("other", "GBP", "expense", 1, dt.date(2026, 1, 1), False),
    )

    async def _seed(self, url: str) -> dict[str, uuid.UUID]:
        orgs = {"multi": uuid.uuid4(), "other": uuid.uuid4(), "empty": uuid.uuid4()}
        category = {name: uuid.uuid4() for name in orgs}
        now = dt.datetime.now(dt.UTC)
        records = sa_table(
            "records",
            *(
                sa_column(name, kind)
                for name, kind in [
                    ("id", Uuid()),
                    ("org_id", Uuid()),
                    ("amount_minor", BigInteger()),
                    ("amount_scaled", BigInteger()),
                    ("currency", String()),
                    ("type", String()),
                    ("category_id", Uuid()),
                    ("date", Date()),
                    ("search_key", String()),
                    ("version", Integer()),
                    ("deleted_at", DateTime(timezone=True)),
                    ("created_at", DateTime(timezone=True)),
                    ("updated_at", DateTime(timezone=True)),
                ]
            ),
        )
        database = Database(url)
        try:
            async with database.sessions() as session:
                await session.execute(
                    insert(Org).values(
                        [
                            {"id": org_id, "name": name, "currency": "EUR" if name == "empty"
                             else "USD", "created_at": now, "updated_at": now}
                            for name, org_id in orgs.items()
                        ]
                    )
                )  # fmt: skip
                await session.execute(
                    insert(Category).values(
                        [
                            {"id": category[name], "org_id": org_id, "name": "F", "name_key": "f"}
                            for name, org_id in orgs.items()
                        ]
                    )
                )
                await session.execute(
                    records.insert().values(
                        [
                            {
                                "id": uuid.uuid4(),
                                "org_id": orgs[org],
                                "amount_minor": minor,
                                "amount_scaled": minor,
                                "currency": currency,
                                "type": kind,
                                "category_id": category[org],
                                "date": day,
                                "search_key": "f",
                                "version": 1,
                                "deleted_at": now if deleted else None,
                                "created_at": now,
                                "updated_at": now,
                            }
                            for org, currency, kind, minor, day, deleted in self.RECORDS
                        ]
                    )
                )
                await session.commit()
        finally:
            await database.dispose()
        return orgs

    async def test_records_move_into_default_accounts_with_balances_and_back(
        self, fresh_url: str
    ) -> None:
        await upgrade(fresh_url, "0006")
        orgs = await self._seed(fresh_url)
        await upgrade(fresh_url, "0007")
        database = Database(fresh_url)
        try:
            async with database.sessions() as session:
                accounts = list(await session.scalars(select(Account)))
                placed = (
                    await session.execute(select(Record.org_id, Record.currency, Record.account_id))
                ).all()
                balances, january = {}, {}
                for org_id in orgs.values():
                    of_org = [a for a in accounts if a.org_id == org_id]
                    balances |= await account_balances.balances_on(
                        session, of_org, dt.date(2026, 12, 31)
                    )
                    january |= await account_balances.balances_on(
                        session, of_org, dt.date(2026, 1, 31)
                    )
        finally:
            await database.dispose()
        by_key = {(a.org_id, a.currency): a for a in accounts}
        assert set(by_key) == {
            (orgs["multi"], "USD"),
            (orgs["multi"], "EUR"),
            (orgs["multi"], "JPY"),
            (orgs["other"], "USD"),
            (orgs["other"], "GBP"),
            (orgs["empty"], "EUR"),
        }
        assert all(a.is_default and a.name == f"Main {a.currency}" for a in accounts)
        assert len(placed) == len(self.RECORDS)
        assert all(by_key[(org, currency)].id == account for org, currency, account in placed)
        expected = {
            (orgs["multi"], "USD"): 10_000 - 2_550,
            (orgs["multi"], "EUR"): -700,
            (orgs["multi"], "JPY"): 5_000,
            (orgs["other"], "USD"): 0,
            (orgs["other"], "GBP"): -1,
            (orgs["empty"], "EUR"): 0,
        }
        assert {key: balances[a.id] for key, a in by_key.items()} == expected
        assert january[by_key[(orgs["multi"], "USD")].id] == 10_000

        await downgrade(fresh_url, "0006")
        assert "accounts" not in await tables(fresh_url)
        await upgrade(fresh_url)
        assert "accounts" in await tables(fresh_url)


async def _functions(url: str) -> set[str]:
    """Ledgerline's own functions in the database (PostgreSQL)."""

    def names(connection: Connection) -> set[str]:
        rows = connection.exec_driver_sql(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'ledgerline%'"
        )
        return {name for (name,) in rows}

    found: set[str] = await _run(names, url)
    return found


class TestClosedThroughFunctionMigration:
    """0013: the function a one-statement write reads its closed period through
    (``accounts.closing.closed_through``), on PostgreSQL only."""

    async def test_it_comes_and_goes_with_its_revision(self, fresh_url: str, backend: str) -> None:
        if backend != "postgresql":
            pytest.skip("SQLite needs no function: its writers run one at a time")
        await upgrade(fresh_url, "0012")
        assert await _functions(fresh_url) == set()
        await upgrade(fresh_url, "0013")
        assert await _functions(fresh_url) == {"ledgerline_closed_through"}
        await downgrade(fresh_url, "0012")
        assert await _functions(fresh_url) == set()
