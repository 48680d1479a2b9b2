"""Keeping ``daily_totals`` in step with the records, inside the writing transaction.

Every change is expressed as signed deltas on (org, day, type, category, currency) buckets and
applied with one ``INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`` per bucket: the
database adds atomically under its row lock, so concurrent writers never lose an increment.
Buckets are applied in key order so two transactions lock them in the same order.

``rebuild`` recounts an org from its records while its writers wait: on PostgreSQL every writer
holds the org's rebuild lock (a transaction-level advisory lock) in shared mode while it applies
its deltas and until it commits, and ``rebuild`` takes it exclusively before it reads anything.
So no delta can be both counted in the recount and applied again on top, or lost with a row the
rebuild replaces. (SQLite runs one writing transaction at a time anyway.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, and_, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.core.db import is_postgresql, upsert_insert
from ledgerline.dashboard.models import DailyTotal
from ledgerline.records.models import Record

HALF = 2**32


def split(amount_minor: int) -> tuple[int, int]:
    """``amount = high * 2**32 + low``, the two halves summed in separate columns."""
    return amount_minor // HALF, amount_minor % HALF


def join_halves(high: int | None, low: int | None) -> int:
    return int(high or 0) * HALF + int(low or 0)


@dataclass(frozen=True, slots=True, order=True)
class Bucket:
    org_id: uuid.UUID
    day: dt.date
    type: str
    category_id: uuid.UUID
    currency: str


def bucket_of(record: Record) -> Bucket:
    return Bucket(record.org_id, record.date, record.type, record.category_id, record.currency)


class Deltas:
    """Signed changes to buckets, accumulated over one operation and applied once."""

    def __init__(self) -> None:
        self._changes: dict[Bucket, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, bucket: Bucket, amount_minor: int, *, sign: int = 1) -> None:
        high, low = split(amount_minor)
        change = self._changes[bucket]
        change[0] += sign * high
        change[1] += sign * low
        change[2] += sign

    def remove(self, bucket: Bucket, amount_minor: int) -> None:
        self.add(bucket, amount_minor, sign=-1)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "org_id": bucket.org_id,
                "day": bucket.day,
                "type": bucket.type,
                "category_id": bucket.category_id,
                "currency": bucket.currency,
                "total_high": high,
                "total_low": low,
                "record_count": count,
            }
            for bucket, (high, low, count) in sorted(self._changes.items())
            if (high, low, count) != (0, 0, 0)
        ]


_KEY = ["org_id", "day", "type", "category_id", "currency"]


def _lock_key(org_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(b"daily_totals:" + org_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _share_rebuild_lock(session: AsyncSession, org_id: uuid.UUID) -> None:
    if is_postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock_shared(_lock_key(org_id))))


async def lock_out_writers(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Wait for the org's writers that changed aggregates to commit, and make new ones wait for
    this transaction, so it sees the records and aggregates still (PostgreSQL; SQLite writers
    are serialized already). Take it before reading anything."""
    if is_postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock(_lock_key(org_id))))


def _accumulate(statement: Any) -> Insert:
    excluded = statement.excluded
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=_KEY,
        set_={
            "total_high": DailyTotal.total_high + excluded.total_high,
            "total_low": DailyTotal.total_low + excluded.total_low,
            "record_count": DailyTotal.record_count + excluded.record_count,
        },
    )


async def apply(session: AsyncSession, deltas: Deltas) -> None:
    rows = deltas.rows()
    if not rows:
        return
    for org_id in sorted({row["org_id"] for row in rows}):
        await _share_rebuild_lock(session, org_id)
    insert = upsert_insert(session)
    for row in rows:
        await session.execute(_accumulate(insert(DailyTotal).values(**row)))


def _bucket_sums(records: Select[Any]) -> Select[Any]:
    sub = records.subquery()
    return (
        select(
            sub.c.org_id,
            sub.c.date,
            sub.c.type,
            sub.c.category_id,
            sub.c.currency,
            func.sum(sub.c.amount_minor.op("/")(literal(HALF))),
            func.sum(sub.c.amount_minor.op("%")(literal(HALF))),
            func.count(),
        )
        .where(literal(True))
        .group_by(sub.c.org_id, sub.c.date, sub.c.type, sub.c.category_id, sub.c.currency)
        .order_by(sub.c.org_id, sub.c.date, sub.c.type, sub.c.category_id, sub.c.currency)
    )


async def add_from_records(session: AsyncSession, org_id: uuid.UUID, records: Select[Any]) -> None:
    """Add the buckets of the org's records that ``records`` selects, summed by the database
    (imports)."""
    await _share_rebuild_lock(session, org_id)
    await _insert_sums(session, records.where(Record.org_id == org_id))


async def _insert_sums(session: AsyncSession, records: Select[Any]) -> None:
    columns = [*_KEY, "total_high", "total_low", "record_count"]
    insert = upsert_insert(session)
    await session.execute(
        _accumulate(insert(DailyTotal).from_select(columns, _bucket_sums(records)))
    )


async def rebuild(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Recompute an org's aggregates from its live records (recovery), its writers waiting."""
    await lock_out_writers(session, org_id)
    await session.execute(delete(DailyTotal).where(DailyTotal.org_id == org_id))
    await _insert_sums(session, live_records(org_id))


def live_records(org_id: uuid.UUID) -> Select[Any]:
    return select(Record).where(and_(Record.org_id == org_id, Record.deleted_at.is_(None)))


@dataclass(frozen=True, slots=True)
class Drift:
    """A bucket whose stored totals differ from a recount of the records."""

    bucket: Bucket
    stored: tuple[int, int]
    recounted: tuple[int, int]


async def find_drift(session: AsyncSession, org_id: uuid.UUID) -> list[Drift]:
    """Compare an org's stored aggregates with a recount from its live records (check mode)."""
    recount = {
        Bucket(org, day, kind, category, currency): (join_halves(high, low), int(count))
        for org, day, kind, category, currency, high, low, count in await session.execute(
            _bucket_sums(live_records(org_id))
        )
    }
    stored = {
        Bucket(row.org_id, row.day, row.type, row.category_id, row.currency): (
            join_halves(row.total_high, row.total_low),
            int(row.record_count),
        )
        for row in await session.scalars(select(DailyTotal).where(DailyTotal.org_id == org_id))
    }
    zero = (0, 0)
    return [
        Drift(bucket, stored.get(bucket, zero), recount.get(bucket, zero))
        for bucket in sorted(recount.keys() | stored.keys())
        if stored.get(bucket, zero) != recount.get(bucket, zero)
    ]
