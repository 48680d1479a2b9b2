"""A record's create on PostgreSQL as one statement, which is its own transaction.

A create took five round trips: ``BEGIN``, the caller's role (the guard), the account and
category with their locks, the write (record, audit entry, aggregates), ``COMMIT``; each wakes
the server, and at 16 clients on two cores a create's throughput was half a bare FastAPI app's
(docs/benchmarks.md, eleventh and twelfth passes). Here the account and
category are found, the locks taken, the closed period read (``closing.closed_through``) and the
record, its audit entry and every aggregate written by one statement; the create route's
session runs statement by statement (``@one_statement_write``), so the guard's read and this
statement are each a transaction of their own, with no ``BEGIN`` or ``COMMIT`` to send: two
round trips. A session in a transaction already (the command line, the web app) runs it inside
that transaction, which holds its locks to the commit as before.

The statement writes only when the create needs nothing else: the account exists (the default
one of the record's currency, or the one named, holding that currency), the org has the
category spelled as the request spells it, and the record's date is after the account's closed
period. Otherwise it writes nothing and returns what it found: a closed period is refused from
it (409); anything else goes the usual way, in a transaction (``records.service``), which
creates a missing default account or category and words every refusal as before.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import JSON, Text

from ledgerline.accounts.closing import UncheckedPeriod, closed_through
from ledgerline.audit.service import AUDIT_ENTRIES
from ledgerline.core.compiled_select import CompiledSelect
from ledgerline.core.text import fold_key
from ledgerline.dashboard import aggregates
from ledgerline.records import queries

FOUND = ("account_id", "category_id")
"""A new record's columns the statement finds (its account, its category); the service binds
the others."""
FOUND_CHANGE = "account_id"
"""The audited field the statement finds (the account's id, in the entry's ``changes``)."""


class Found(NamedTuple):
    """What the statement found, and whether it created the record (``created``: 1 or 0)."""

    account_id: uuid.UUID
    account_name: str
    account_currency: str
    reconciled_through: dt.date | None
    category_id: uuid.UUID | None
    category_name: str | None
    created: int


async def create(
    session: AsyncSession,
    values: Mapping[str, Any],
    entry: Mapping[str, Any],
    deltas: aggregates.Deltas,
    *,
    category: str,
    account_id: uuid.UUID | None,
) -> Found | None:
    """Create the record of column ``values``, its audit entry of column values ``entry``
    (``changes`` a created record's, ``{field: [None, value]}``) and ``deltas``' one bucket, in
    one statement, in the org's account ``account_id`` (None: the default account of the
    record's currency) and its category spelled ``category``: what ``values``, ``entry`` and
    ``deltas`` hold for those is replaced by what the statement finds. None when no such account
    exists. Raises ``PeriodClosed`` (nothing written) when the record's date is in the account's
    closed period; ``created`` is 0 when it wrote nothing for another reason."""
    record = {name: value for name, value in values.items() if name not in FOUND}
    columns = {name: value for name, value in entry.items() if name != "changes"}
    changes = {field: value for field, (_, value) in entry["changes"].items()}
    statement = _statement(account_id is not None, tuple(record), tuple(columns), tuple(changes))
    del changes[FOUND_CHANGE]
    parameters: dict[str, Any] = {
        "category": category,
        "category_key": fold_key(category),
        **aggregates.rebuild_lock_parameters(record["org_id"]),
        **aggregates.one_bucket_parameters(deltas, FOUND),
        **{_record_name(name): value for name, value in record.items()},
        **{_entry_name(name): value for name, value in columns.items()},
        **{_change_name(field): value for field, value in changes.items()},
    }
    if account_id is not None:
        parameters["account_id"] = account_id
    found = await statement.one_or_none(session, parameters)
    if found is None:
        return None
    if not found.created and found.account_currency == record["currency"]:
        UncheckedPeriod(found.account_id, record["date"]).require_open(
            [(found.account_id, found.account_name, found.reconciled_through)]
        )
    return found


def _record_name(column: str) -> str:
    return f"r_{column}"


def _entry_name(column: str) -> str:
    return f"a_{column}"


def _change_name(field: str) -> str:
    return f"c_{field}"


@functools.cache
def _statement(
    by_account_id: bool,
    record_columns: tuple[str, ...],
    entry_columns: tuple[str, ...],
    changed_fields: tuple[str, ...],
) -> CompiledSelect[Found]:
    """``WITH target AS (the account, its closed period after its lock, the category, the
    rebuild lock), insert_record AS (INSERT ... SELECT ... FROM target WHERE it may be created
    RETURNING its account and category), insert_audit, upsert_<grain>... SELECT what target
    found, whether the record was inserted``. Built once for each shape of its values."""
    records, accounts, categories = queries.RECORDS, queries.ACCOUNTS, queries.CATEGORIES
    bound = {
        name: bindparam(_record_name(name), type_=records.c[name].type) for name in record_columns
    }
    where_account = (
        [accounts.c.id == bindparam("account_id", type_=accounts.c.id.type)]
        if by_account_id
        else [accounts.c.currency == bound["currency"], accounts.c.is_default.is_(True)]
    )
    target = (
        select(
            accounts.c.id.label("account_id"),
            accounts.c.name.label("account_name"),
            accounts.c.currency.label("account_currency"),
            closed_through(accounts.c.id).label("reconciled_through"),
            categories.c.id.label("category_id"),
            categories.c.name.label("category_name"),
            aggregates.SHARED_REBUILD_LOCK.label("rebuild_locked"),
        )
        .outerjoin(
            categories,
            and_(
                categories.c.org_id == accounts.c.org_id,
                categories.c.name_key == bindparam("category_key", type_=Text),
            ),
        )
        .where(accounts.c.org_id == bound["org_id"], *where_account)
        .cte("target")
    )
    may_create = and_(
        target.c.category_name == bindparam("category", type_=Text),
        target.c.account_currency == bound["currency"],
        or_(
            target.c.reconciled_through.is_(None),
            target.c.reconciled_through < bound["date"],
        ),
    )
    record_values = {**bound, **{name: target.c[name] for name in FOUND}}
    insert_record = (
        records.insert()
        .from_select(list(record_values), select(*record_values.values()).where(may_create))
        .returning(records.c.account_id, records.c.category_id)
        .cte("insert_record")
    )
    entry_values: dict[str, ColumnElement[Any]] = {
        name: bindparam(_entry_name(name), type_=AUDIT_ENTRIES.c[name].type)
        for name in entry_columns
    }
    entry_values["changes"] = _created_changes(changed_fields, insert_record.c.account_id)
    insert_entry = (
        AUDIT_ENTRIES.insert()
        .from_select(list(entry_values), select(*entry_values.values()).select_from(insert_record))
        .cte("insert_audit")
    )
    created = select(func.count()).select_from(insert_record).scalar_subquery()
    final = select(
        target.c.account_id,
        target.c.account_name,
        target.c.account_currency,
        target.c.reconciled_through,
        target.c.category_id,
        target.c.category_name,
        created.label("created"),
        target.c.rebuild_locked,
    ).add_cte(insert_entry, *aggregates.upserts_found_in(insert_record, FOUND))
    return CompiledSelect(final, Found)


def _created_changes(
    fields: tuple[str, ...], account_id: ColumnElement[uuid.UUID]
) -> ColumnElement[Any]:
    """A created record's audited ``changes``, ``{field: [null, value]}`` in the order of
    ``fields``, built by the database: its account (``FOUND_CHANGE``) the one the statement
    found."""
    pairs: list[ColumnElement[Any]] = []
    for field in fields:
        value = (
            account_id.cast(Text)
            if field == FOUND_CHANGE
            else bindparam(_change_name(field), type_=Text)
        )
        pairs += [literal(field), func.json_build_array(null(), value)]
    return func.json_build_object(*pairs, type_=JSON)
