"""The Python a record's create spends on its record, audit entry and aggregates, no I/O.

Times ``aggregates.apply`` with a record and its audit entry ``along``, as a create calls it,
on a fresh migrated SQLite file. SQLite defers those writes to the commit
(``core/deferred_writes.py``), so the time inside ``apply`` is Python alone: compiling (once),
binding and handing the rows to the driver. The commit that runs them is outside the timing.

    .venv/bin/python -m bench.write_python --writes 2000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from ledgerline.accounts.models import Account
from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core import migrations
from ledgerline.core.db import Database, utcnow
from ledgerline.core.deferred_writes import NewRow
from ledgerline.core.ids import new_id
from ledgerline.dashboard import aggregates
from ledgerline.orgs.models import Org
from ledgerline.records.models import Category
from ledgerline.records.queries import RECORDS


async def measure(url: str, writes: int) -> list[float]:
    database = Database(url)
    try:
        async with database.sessions() as session:
            org = Org(name="Bench", currency="USD")
            session.add(org)
            await session.flush()
            account = Account(
                org_id=org.id,
                name="Main USD",
                name_key="main usd",
                kind="checking",
                currency="USD",
                is_default=True,
            )
            category = Category(org_id=org.id, name="Rent", name_key="rent")
            session.add_all([account, category])
            await session.commit()
        timings = []
        for index in range(writes):
            async with database.sessions() as session:
                await session.connection()
                now = utcnow()
                day = dt.date(2026, 1, 1) + dt.timedelta(days=index % 365)
                record_id = new_id()
                record = {
                    "id": record_id,
                    "account_id": account.id,
                    "org_id": org.id,
                    "amount_minor": 1250,
                    "amount_scaled": 125000,
                    "currency": "USD",
                    "type": "expense",
                    "category_id": category.id,
                    "date": day,
                    "notes": None,
                    "search_key": "rent\n",
                    "transfer_id": None,
                    "external_id": None,
                    "created_by": None,
                    "updated_by": None,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                deltas = aggregates.Deltas()
                bucket = aggregates.Bucket(org.id, day, "expense", category.id, "USD", account.id)
                deltas.add(bucket, 1250)
                entry = audit_service.new_entry(
                    org_id=org.id,
                    actor_id=None,
                    action=AuditAction.RECORD_CREATED,
                    entity_type=EntityType.RECORD,
                    entity_id=record_id,
                    changes={"amount": [None, "12.50"]},
                )
                began = time.perf_counter()
                await aggregates.apply(session, deltas, along=[NewRow(RECORDS, record), entry])
                timings.append(time.perf_counter() - began)
                await session.commit()
        return timings
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrations.upgrade(url)
        timings = asyncio.run(measure(url, args.writes))
    print(
        f"aggregates.apply with a record and its audit entry: median "
        f"{statistics.median(timings) * 1000:.3f} ms, mean "
        f"{statistics.mean(timings) * 1000:.3f} ms over {args.writes} writes"
    )


if __name__ == "__main__":
    main()
