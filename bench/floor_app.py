"""The floor for ``bench.load``: a bare FastAPI app doing the same insert or select as Ledgerline
and nothing else, on the same database, as the leanest peer would write it.

No authentication, no audit, no aggregates, no idempotency, no versioning: plain SQLAlchemy
Core on the async driver (aiosqlite or asyncpg), a pydantic model for the body, the row
returned as JSON. The org, its user, its default accounts and its categories are read once at
startup (a peer would take their ids in the body). Served by uvicorn like Ledgerline:

    LEDGERLINE_FLOOR_DATABASE_URL=sqlite:////tmp/x.db \\
        .venv/bin/python -m uvicorn bench.floor_app:create_app --factory --port 8001
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import Table, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledgerline.accounts.models import Account
from ledgerline.core.db import async_url
from ledgerline.dashboard.models import MonthlyTotal
from ledgerline.orgs.models import Org
from ledgerline.records.models import Category, Record

RECORDS: Table = Record.__table__  # type: ignore[assignment]
CATEGORIES: Table = Category.__table__  # type: ignore[assignment]
MONTHLY: Table = MonthlyTotal.__table__  # type: ignore[assignment]
COLUMNS = (
    RECORDS.c.id,
    RECORDS.c.org_id,
    RECORDS.c.amount_minor,
    RECORDS.c.currency,
    RECORDS.c.type,
    CATEGORIES.c.name.label("category"),
    RECORDS.c.date,
    RECORDS.c.notes,
    RECORDS.c.account_id,
    RECORDS.c.created_at,
    RECORDS.c.updated_at,
    RECORDS.c.version,
)


class RecordIn(BaseModel):
    amount: Decimal
    type: Literal["income", "expense"]
    category: str
    date: dt.date
    notes: str | None = None


class RecordOut(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    amount: str
    currency: str
    type: str
    category: str | None
    date: dt.date
    notes: str | None
    account_id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class Page(BaseModel):
    items: list[RecordOut]


class Total(BaseModel):
    currency: str
    type: str
    total_minor: int
    record_count: int


@dataclass
class Known:
    org_id: uuid.UUID
    user_id: uuid.UUID
    account_id: uuid.UUID
    categories: dict[str, uuid.UUID]


def _out(row: Any) -> RecordOut:
    return RecordOut(
        id=row.id,
        org_id=row.org_id,
        amount=f"{Decimal(row.amount_minor).scaleb(-2):.2f}",
        currency=row.currency,
        type=row.type,
        category=row.category,
        date=row.date,
        notes=row.notes,
        account_id=row.account_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _engine(url: str) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() != "sqlite":
        return create_async_engine(target, pool_size=10, max_overflow=10)
    engine = create_async_engine(target)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def create_app() -> FastAPI:
    engine = _engine(os.environ["LEDGERLINE_FLOOR_DATABASE_URL"])
    known: list[Known] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with engine.connect() as connection:
            org = (await connection.execute(select(Org.id, Org.currency))).first()
            assert org is not None
            user_id = await connection.scalar(select(RECORDS.c.created_by).limit(1))
            account_id = await connection.scalar(
                select(Account.id).where(
                    Account.org_id == org.id,
                    Account.currency == org.currency,
                    Account.is_default.is_(True),
                )
            )
            categories = {
                name: category_id
                for category_id, name in await connection.execute(
                    select(CATEGORIES.c.id, CATEGORIES.c.name).where(CATEGORIES.c.org_id == org.id)
                )
            }
        assert user_id is not None
        assert account_id is not None
        known.append(Known(org.id, user_id, account_id, categories))
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/records", status_code=201)
    async def create(body: RecordIn) -> RecordOut:
        k = known[0]
        now = dt.datetime.now(dt.UTC)
        minor = int(body.amount * 100)
        values = {
            "id": uuid.uuid4(),
            "org_id": k.org_id,
            "amount_minor": minor,
            "amount_scaled": minor * 100,
            "currency": "USD",
            "type": body.type,
            "category_id": k.categories[body.category],
            "account_id": k.account_id,
            "date": body.date,
            "notes": body.notes,
            "search_key": "",
            "created_by": k.user_id,
            "updated_by": k.user_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        async with engine.begin() as connection:
            await connection.execute(RECORDS.insert(), values)
        return _out(type("Row", (), {**values, "category": body.category}))

    @app.get("/records")
    async def list_records(
        type: Literal["income", "expense"] | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        limit: int = Query(50, ge=1, le=200),
    ) -> Page:
        statement = (
            select(*COLUMNS)
            .outerjoin(CATEGORIES, CATEGORIES.c.id == RECORDS.c.category_id)
            .where(RECORDS.c.org_id == known[0].org_id, RECORDS.c.deleted_at.is_(None))
        )
        if type is not None:
            statement = statement.where(RECORDS.c.type == type)
        if date_from is not None:
            statement = statement.where(RECORDS.c.date >= date_from)
        if date_to is not None:
            statement = statement.where(RECORDS.c.date <= date_to)
        statement = statement.order_by(RECORDS.c.date.desc(), RECORDS.c.id.desc()).limit(limit)
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return Page(items=[_out(row) for row in rows])

    @app.get("/records/{record_id}")
    async def get_record(record_id: uuid.UUID) -> RecordOut:
        statement = (
            select(*COLUMNS)
            .outerjoin(CATEGORIES, CATEGORIES.c.id == RECORDS.c.category_id)
            .where(
                RECORDS.c.id == record_id,
                RECORDS.c.org_id == known[0].org_id,
                RECORDS.c.deleted_at.is_(None),
            )
        )
        async with engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise HTTPException(404)
        return _out(row)

    @app.get("/summary")
    async def summary() -> list[Total]:
        statement = (
            select(
                MONTHLY.c.currency,
                MONTHLY.c.type,
                func.sum(MONTHLY.c.total_high),
                func.sum(MONTHLY.c.total_low),
                func.sum(MONTHLY.c.record_count),
            )
            .where(MONTHLY.c.org_id == known[0].org_id)
            .group_by(MONTHLY.c.currency, MONTHLY.c.type)
        )
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            Total(
                currency=currency,
                type=kind,
                total_minor=int(high) * 2**32 + int(low),
                record_count=int(count),
            )
            for currency, kind, high, low, count in rows
        ]

    return app
