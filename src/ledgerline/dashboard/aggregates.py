"""Keeping the dashboard aggregates in step with the records, inside the writing transaction.

Every change is expressed as signed deltas on the finest buckets (org, day, type, category,
currency, account), rolled up to each grain of ``GRAINS`` (daily, monthly, daily per type, and
the accounts' daily and monthly balances, where a bucket's amount counts with the sign its type
gives it: income adds to a balance, expense subtracts) and applied
with ``INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x``: the database adds atomically
under its row lock, so concurrent writers never lose an increment. Grains are applied in a fixed
order and each grain's rows in key order, so two transactions lock them in the same order.

``rebuild`` recounts an org from its records while its writers wait: on PostgreSQL every writer
holds the org's rebuild lock (a transaction-level advisory lock) in shared mode while it applies
its deltas and until it commits, and ``rebuild`` takes it exclusively before it reads anything.
So no delta can be both counted in the recount and applied again on top, or lost with a row the
rebuild replaces. (SQLite runs one writing transaction at a time anyway.)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from typing import cast as cast_type

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts.models import AccountDailyBalance, AccountMonthlyBalance, Transfer
from ledgerline.core.compiled_select import CompiledSelect, RowT
from ledgerline.core.db import Base, is_postgresql
from ledgerline.core.deferred_writes import NewRow, deferred_writes
from ledgerline.dashboard.models import DailyTotal, DailyTypeTotal, MonthlyTotal
from ledgerline.records.models import Record

HALF = 2**32
SUMMED = ("total_high", "total_low", "record_count")
"""The columns every aggregate table sums, after its key."""


def split(amount_minor: int) -> tuple[int, int]:
    """``amount = high * 2**32 + low``, the two halves summed in separate columns."""
    return amount_minor // HALF, amount_minor % HALF


def join_halves(high: int | None, low: int | None) -> int:
    return int(high or 0) * HALF + int(low or 0)


@dataclass(frozen=True, slots=True, order=True)
class Bucket:
    """The finest grain: what one record counts towards."""

    org_id: uuid.UUID
    day: dt.date
    type: str
    category_id: uuid.UUID | None
    """None on a transfer leg."""
    currency: str
    account_id: uuid.UUID


def bucket_of(record: Record) -> Bucket:
    return Bucket(
        record.org_id,
        record.date,
        record.type,
        record.category_id,
        record.currency,
        record.account_id,
    )


TRANSFER_OUT, TRANSFER_IN = "transfer_out", "transfer_in"
"""A transfer leg's bucket type: its records are all of type ``transfer``, the direction is
the bucket's (and a recount's) to know."""
BALANCE_SIGNS = {"income": 1, "expense": -1, TRANSFER_OUT: -1, TRANSFER_IN: 1}
"""How a record's amount counts in its account's balance, by bucket type."""
DASHBOARD_TYPES = frozenset({"income", "expense"})
"""What the dashboard grains count: transfers are never income or expense."""

Totals = DailyTotal | MonthlyTotal | DailyTypeTotal
Balances = AccountDailyBalance | AccountMonthlyBalance


@dataclass(frozen=True, slots=True)
class Grain:
    """One aggregate table: its key columns, and the key a finest bucket rolls up to."""

    model: type[Totals | Balances]
    key: tuple[str, ...]
    of: Callable[[Bucket], tuple[Any, ...]]
    signed: bool = False
    """Sums amounts with the sign of their type (``BALANCE_SIGNS``), not as they are."""

    @property
    def table(self) -> Table:
        return cast_type(Table, self.model.__table__)

    def counts(self, bucket: Bucket) -> bool:
        """Whether the grain counts ``bucket``: the dashboard's never count transfers."""
        return self.signed or bucket.type in DASHBOARD_TYPES

    def sign_of(self, bucket: Bucket) -> int:
        return BALANCE_SIGNS[bucket.type] if self.signed else 1


GRAINS = (
    Grain(
        DailyTotal,
        ("org_id", "day", "type", "category_id", "currency", "account_id"),
        lambda b: (b.org_id, b.day, b.type, b.category_id, b.currency, b.account_id),
    ),
    Grain(
        MonthlyTotal,
        ("org_id", "month", "type", "category_id", "currency", "account_id"),
        lambda b: (
            b.org_id,
            b.day.replace(day=1),
            b.type,
            b.category_id,
            b.currency,
            b.account_id,
        ),
    ),
    Grain(
        DailyTypeTotal,
        ("org_id", "day", "type", "currency", "account_id"),
        lambda b: (b.org_id, b.day, b.type, b.currency, b.account_id),
    ),
    Grain(
        AccountDailyBalance,
        ("org_id", "account_id", "day"),
        lambda b: (b.org_id, b.account_id, b.day),
        signed=True,
    ),
    Grain(
        AccountMonthlyBalance,
        ("org_id", "account_id", "month"),
        lambda b: (b.org_id, b.account_id, b.day.replace(day=1)),
        signed=True,
    ),
)


class Deltas:
    """Signed changes to buckets, accumulated over one operation and applied once."""

    def __init__(self) -> None:
        self._changes: dict[Bucket, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, bucket: Bucket, amount_minor: int, *, sign: int = 1) -> None:
        high, low = split(amount_minor)
        self.add_sums(bucket, sign * high, sign * low, sign)

    def remove(self, bucket: Bucket, amount_minor: int) -> None:
        self.add(bucket, amount_minor, sign=-1)

    def add_sums(self, bucket: Bucket, high: int, low: int, count: int) -> None:
        """Add halves already summed over ``count`` records (imports, recounts)."""
        change = self._changes[bucket]
        change[0] += high
        change[1] += low
        change[2] += count

    def totals(self, grain: Grain) -> dict[tuple[Any, ...], tuple[int, int, int]]:
        """The changes rolled up to ``grain``, in key order, without those that cancel out."""
        rolled: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
        for bucket, (high, low, count) in self._changes.items():
            if not grain.counts(bucket):
                continue
            sign = grain.sign_of(bucket)
            change = rolled[grain.of(bucket)]
            change[0] += sign * high
            change[1] += sign * low
            change[2] += count
        return {
            key: (high, low, count)
            for key, (high, low, count) in sorted(rolled.items())
            if (high, low, count) != (0, 0, 0)
        }

    def rows(self, grain: Grain) -> list[dict[str, Any]]:
        return [
            dict(zip((*grain.key, *SUMMED), (*key, *sums), strict=True))
            for key, sums in self.totals(grain).items()
        ]

    def orgs(self) -> list[uuid.UUID]:
        return sorted({bucket.org_id for bucket in self._changes})

    def only(self) -> tuple[Bucket, tuple[int, int, int]]:
        """The one bucket changed and its change (a record's create)."""
        ((bucket, (high, low, count)),) = self._changes.items()
        return bucket, (high, low, count)


def _lock_key(org_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(b"daily_totals:" + org_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_SHARED_REBUILD_LOCKS = "ledgerline_shared_rebuild_locks"


def _shared_rebuild_locks(session: AsyncSession) -> set[uuid.UUID]:
    """The orgs whose rebuild lock the session's current transaction holds shared."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_SHARED_REBUILD_LOCKS)
    if held is None or held[0] is not transaction:
        held = session.info[_SHARED_REBUILD_LOCKS] = (transaction, set())
    locks: set[uuid.UUID] = held[1]
    return locks


def shared_rebuild_lock(session: AsyncSession, org_id: uuid.UUID) -> ColumnElement[Any] | None:
    """The expression that takes the org's rebuild lock shared (PostgreSQL), for a writer that
    selects it along with other locks it takes before its reads: one round trip for all (see
    ``closing.require_open``). ``apply`` then does not take it again. None elsewhere, or when
    the transaction holds it already. The caller must execute it in this transaction."""
    if not is_postgresql(session):
        return None
    held = _shared_rebuild_locks(session)
    if org_id in held:
        return None
    held.add(org_id)
    return func.pg_advisory_xact_lock_shared(_lock_key(org_id))


SHARED_REBUILD_LOCK = func.pg_advisory_xact_lock_shared(
    bindparam("rebuild_lock_key", type_=BigInteger)
)
"""A column taking an org's rebuild lock shared (PostgreSQL), for a statement built once that
may take it or not (a column of the row it finds); its parameter is
``rebuild_lock_parameters``, and once it took the lock, ``rebuild_lock_held``."""


def rebuild_lock_parameters(org_id: uuid.UUID) -> dict[str, int]:
    return {"rebuild_lock_key": _lock_key(org_id)}


def rebuild_lock_held(session: AsyncSession, org_id: uuid.UUID) -> None:
    """The session's transaction took the org's rebuild lock shared: ``apply`` does not again."""
    _shared_rebuild_locks(session).add(org_id)


async def _share_rebuild_lock(session: AsyncSession, org_id: uuid.UUID) -> None:
    lock = shared_rebuild_lock(session, org_id)
    if lock is not None:
        await session.execute(select(lock))


async def lock_out_writers(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Wait for the org's writers that changed aggregates to commit, and make new ones wait for
    this transaction, so it sees the records and aggregates still (PostgreSQL; SQLite writers
    are serialized already). Take it before reading anything."""
    if is_postgresql(session):
        await session.execute(select(func.pg_advisory_xact_lock(_lock_key(org_id))))


def _accumulate(statement: Any, grain: Grain) -> Insert:
    excluded, table = statement.excluded, grain.table
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(grain.key),
        set_={name: table.c[name] + excluded[name] for name in SUMMED},
    )


async def apply(
    session: AsyncSession,
    deltas: Deltas,
    *,
    along: Sequence[NewRow] = (),
    then_read: tuple[CompiledSelect[RowT], Mapping[str, Any]] | None = None,
) -> Sequence[RowT | Written]:
    """Add the deltas to every grain, and insert the rows ``along`` with them: in one
    statement on PostgreSQL, in one trip on SQLite, whatever the number of rows.

    ``then_read`` (a ``CompiledSelect`` and its parameters, named apart from the writes'): on
    PostgreSQL, the statement's final ``SELECT`` instead of ``SELECT 1``, in the snapshot the
    statement began with (it does not see the statement's own writes); its rows are returned, a
    round trip fewer than reading them apart. Elsewhere it is not read and nothing is returned.
    The statement runs below SQLAlchemy's execution layer (``CompiledSelect``): binding its
    sixty-odd parameters through it took 80 us of a create.

    On PostgreSQL the rows travel as one array per column and each grain's upsert reads them
    back with ``unnest``; the five upserts, and the inserts of ``along``, are the
    data-modifying CTEs of one statement, so a write pays one round trip for all its
    aggregates (it paid one per grain, and before that one per row). Each touches its own
    table, in the statement's one fixed order, and each grain's rows go in key order, so
    concurrent writers still lock rows in the same order.
    SQLite runs in process and has no data-modifying CTEs: one cached statement a grain,
    executed for each row (executemany), through Core, as the ORM's bulk insert would handle
    every row in Python first; they go to SQLite's thread with the next statement or the
    commit, in one trip (``core/deferred_writes.py``). The statements are built once:
    building an upsert (its ``excluded`` columns, its cache key) cost more than executing it.
    """
    orgs = deltas.orgs()
    if not orgs and not along and then_read is None:
        return ()
    for org_id in orgs:
        await _share_rebuild_lock(session, org_id)
    if is_postgresql(session):
        parameters: dict[str, Any] = {}
        rows_of = [deltas.rows(grain) for grain in GRAINS]
        one_row_each = all(len(rows) == 1 for rows in rows_of)
        for index, (grain, rows) in enumerate(zip(GRAINS, rows_of, strict=True)):
            for name in (*grain.key, *SUMMED):
                parameters[_array_name(index, name)] = (
                    rows[0][name] if one_row_each else [row[name] for row in rows]
                )
        for position, row in enumerate(along):
            for name, value in row.values.items():
                parameters[_insert_name(position, name)] = value
        final: CompiledSelect[Any] = _WRITTEN
        if then_read is not None:
            final, read_parameters = then_read
            parameters.update(read_parameters)
        write = _postgresql_upserts(tuple(row.shape for row in along), final, one_row_each)
        return await write.all(session, parameters)
    async with deferred_writes(session) as writes:
        for row in along:
            await writes.execute(_insert(row.table.name), [row.values])
        for grain, statement in zip(GRAINS, _sqlite_upserts(), strict=True):
            await writes.execute(statement, deltas.rows(grain))
    return ()


def _array_name(index: int, column: str) -> str:
    return f"g{index}_{column}"


_PARAMETER_NAMES = tuple(
    (grain, tuple((column, _array_name(index, column)) for column in (*grain.key, *SUMMED)))
    for index, grain in enumerate(GRAINS)
)
"""Each grain's columns, key then sums, with their parameters' names."""


def _insert_name(position: int, column: str) -> str:
    return f"r{position}_{column}"


@functools.cache
def _insert(table_name: str) -> Insert:
    """One statement per table, so ``deferred_writes`` compiles it once."""
    return Base.metadata.tables[table_name].insert()


@functools.cache
def _sqlite_upserts() -> tuple[Insert, ...]:
    return tuple(_accumulate(sqlite.insert(grain.table), grain) for grain in GRAINS)


class Written(NamedTuple):
    """The row of a write's statement that reads nothing else (``SELECT 1``)."""

    written: int


_WRITTEN = CompiledSelect(select(literal(1).label("written")), Written)


@functools.cache
def _postgresql_upserts(
    shapes: tuple[tuple[str, tuple[str, ...]], ...],
    final: CompiledSelect[RowT],
    one_row_each: bool,
) -> CompiledSelect[RowT]:
    """``WITH insert_r0 AS (INSERT ...), upsert_<table> AS (INSERT ... SELECT FROM
    unnest(arrays) ON CONFLICT ...), ... SELECT 1``: the rows of ``shapes`` (table, columns)
    inserted and every grain's upsert, in one statement, its values bound by name; ``final``
    in place of ``SELECT 1``. With ``one_row_each`` (a record's create: one bucket a grain),
    each upsert takes its row's values as they are, not as one-element arrays, whose binding
    through SQLAlchemy's array processors and asyncpg's array codec cost more (38 of them a
    create)."""
    inserts = []
    for position, (table_name, inserted) in enumerate(shapes):
        into = Base.metadata.tables[table_name]
        values = {
            name: bindparam(_insert_name(position, name), type_=into.c[name].type)
            for name in inserted
        }
        inserts.append(into.insert().values(values).cte(f"insert_r{position}"))
    if one_row_each:
        return CompiledSelect(final.statement.add_cte(*inserts, *upserts_found_in()), final.row)
    upserts = []
    for index, grain in enumerate(GRAINS):
        table = grain.table
        columns = [*grain.key, *SUMMED]
        arrays = [
            cast(
                bindparam(_array_name(index, name), type_=postgresql.ARRAY(table.c[name].type)),
                postgresql.ARRAY(table.c[name].type),
            )
            for name in columns
        ]
        rows = func.unnest(*arrays).table_valued(*columns).render_derived()
        insert = postgresql.insert(table).from_select(
            columns, select(*(rows.c[name] for name in columns))
        )
        upserts.append(_accumulate(insert, grain).cte(f"upsert_{table.name}"))
    return CompiledSelect(final.statement.add_cte(*inserts, *upserts), final.row)


def upserts_found_in(source: CTE | None = None, found: Sequence[str] = ()) -> list[CTE]:
    """Every grain's upsert of one bucket (a record's create), as a write statement's CTEs, in
    ``apply``'s order (so writers lock rows in one order). Its values are bound by name
    (``one_bucket_parameters``), but for the key columns ``found`` (its account, its category),
    taken from ``source``: another CTE of the statement, which found them, and whose rows are
    the buckets counted (one, or none to count nothing)."""
    upserts = []
    for index, grain in enumerate(GRAINS):
        table = grain.table
        values = {
            name: source.c[name]
            if source is not None and name in found
            else bindparam(_array_name(index, name), type_=table.c[name].type)
            for name in (*grain.key, *SUMMED)
        }
        insert = postgresql.insert(table)
        if source is None:
            insert = insert.values(values)
        else:
            insert = insert.from_select(list(values), select(*values.values()).select_from(source))
        upserts.append(_accumulate(insert, grain).cte(f"upsert_{table.name}"))
    return upserts


def one_bucket_parameters(deltas: Deltas, found: Sequence[str] = ()) -> dict[str, Any]:
    """The parameters of ``upserts_found_in``'s upserts for ``deltas``' one bucket, but for
    the columns ``found``: the statement finds them. Rolled up as ``Deltas.totals`` would,
    without its sorting and merging of many buckets (a fifth of a create's own Python)."""
    bucket, (high, low, count) = deltas.only()
    parameters: dict[str, Any] = {}
    for grain, names in _PARAMETER_NAMES:
        if not grain.counts(bucket):
            raise ValueError(f"{grain.model.__tablename__} does not count {bucket.type}")
        sign = grain.sign_of(bucket)
        values = (*grain.of(bucket), sign * high, sign * low, count)
        for (column, name), value in zip(names, values, strict=True):
            if column not in found:
                parameters[name] = value
    return parameters


def live_records(org_id: uuid.UUID) -> Select[Any]:
    return select(Record).where(and_(Record.org_id == org_id, Record.deleted_at.is_(None)))


async def recount(session: AsyncSession, org_id: uuid.UUID) -> Deltas:
    """The org's live records summed per finest bucket by the database; a transfer leg's
    direction is read from its transfer (the leg in the transfer's source account is out)."""
    records = live_records(org_id).subquery()
    transfers = cast_type(Table, Transfer.__table__)
    kind = case(
        (records.c.transfer_id.is_(None), records.c.type),
        (records.c.account_id == transfers.c.from_account_id, literal(TRANSFER_OUT)),
        else_=literal(TRANSFER_IN),
    )
    key = (
        records.c.org_id,
        records.c.date,
        kind,
        records.c.category_id,
        records.c.currency,
        records.c.account_id,
    )
    rows = await session.execute(
        select(
            *key,
            func.sum(records.c.amount_minor.op("/")(literal(HALF))),
            func.sum(records.c.amount_minor.op("%")(literal(HALF))),
            func.count(),
        )
        .select_from(records.outerjoin(transfers, transfers.c.id == records.c.transfer_id))
        .group_by(*key)
    )
    deltas = Deltas()
    for org, day, kind_, category, currency, account, high, low, count in rows:
        bucket = Bucket(org, day, kind_, category, currency, account)
        deltas.add_sums(bucket, int(high), int(low), count)
    return deltas


async def rebuild(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Recompute an org's aggregates from its live records (recovery), its writers waiting."""
    await lock_out_writers(session, org_id)
    for grain in GRAINS:
        await session.execute(delete(grain.model).where(grain.model.org_id == org_id))
    await apply(session, await recount(session, org_id))


@dataclass(frozen=True, slots=True)
class Drift:
    """An aggregate row whose stored totals differ from a recount of the records: totals in
    minor units and record counts."""

    table: str
    key: dict[str, Any]
    stored: tuple[int, int]
    recounted: tuple[int, int]


async def find_drift(session: AsyncSession, org_id: uuid.UUID) -> list[Drift]:
    """Compare an org's stored aggregates, at every grain, with a recount of its live records
    (check mode)."""
    counted = await recount(session, org_id)
    drift: list[Drift] = []
    for grain in GRAINS:
        expected = {
            key: (join_halves(high, low), count)
            for key, (high, low, count) in counted.totals(grain).items()
        }
        table, width = grain.table, len(grain.key)
        stored = {
            tuple(row[:width]): (join_halves(row[-3], row[-2]), int(row[-1]))
            for row in await session.execute(
                select(*(table.c[name] for name in (*grain.key, *SUMMED))).where(
                    table.c.org_id == org_id
                )
            )
        }
        zero = (0, 0)
        drift.extend(
            Drift(
                grain.table.name,
                dict(zip(grain.key, key, strict=True)),
                stored.get(key, zero),
                expected.get(key, zero),
            )
            for key in sorted(expected.keys() | stored.keys())
            if stored.get(key, zero) != expected.get(key, zero)
        )
    return drift
