"""How fast statement files are read, next to the plain CSV import's reader, with no database.

Generates the same number of rows in a German bank CSV (cp1252, ``;``, decimal comma, two
description columns, read through its mapping, then given their row identities), in our own
CSV layout (read by the plain importer's reader), and as OFX 1.x, CAMT.053 and MT940 built
from the example files, reads each ``--repeat`` times and prints the median wall time and
rows/s. The statement endpoint's import adds the same database work as the plain import, so
the reader's share decides how close a bank file's import comes to the plain one's.

    .venv/bin/python -m bench.statements --rows 100000 --repeat 3

With ``--database-url`` it times whole imports instead: the German bank CSV through the
statements endpoint's service (its mapping, 20 category rules of which a third match, the rest
of the descriptions looked up among earlier records) next to the same rows in our own layout
through the plain CSV import, each into a fresh migrated database, commit included, and prints
both rates and their ratio (``--profile`` profiles the statement import).

    .venv/bin/python -m bench.statements --rows 100000 --repeat 2 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from bench import imports_exports as plain_bench
from ledgerline.accounts import service as accounts_service
from ledgerline.core.db import Database
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports import statement_import
from ledgerline.imports_exports.category_rules.models import CategoryRule
from ledgerline.imports_exports.parsing import CsvRows
from ledgerline.imports_exports.statements import (
    CsvMapping,
    ReadOptions,
    read_statements,
    row_identities,
)
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users.models import User

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
GERMAN = CsvMapping(
    delimiter=";",
    encoding="cp1252",
    date_column="Buchungstag",
    date_format="DD.MM.YYYY",
    amount_column="Betrag",
    decimal_separator=",",
    thousands_separator=".",
    description_columns=["Empfänger", "Verwendungszweck"],
    currency_column="Währung",
)


def german_csv(rows: int) -> bytes:
    lines = ["Buchungstag;Valutadatum;Buchungstext;Empfänger;Verwendungszweck;Betrag;Währung"]
    for i in range(rows):
        day = f"{i % 28 + 1:02d}.{i % 12 + 1:02d}.2026"
        amount = f"-{i % 900 + 1},{i % 100:02d}"
        lines.append(
            f'"{day}";"{day}";"Kartenzahlung";"Bäckerei Müller {i % 50}";"Brötchen {i}";'
            f'"{amount}";"EUR"'
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def plain_csv(rows: int) -> bytes:
    lines = ["date,type,category,amount,notes"]
    for i in range(rows):
        lines.append(
            f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d},expense,Food,{i % 900 + 1}.{i % 100:02d},"
            f"Brötchen {i}"
        )
    return ("\n".join(lines) + "\n").encode()


def repeated(name: str, rows: int, marker: bytes, end_marker: bytes) -> bytes:
    """The example file with its first transaction block repeated to ``rows`` rows."""
    data = (EXAMPLES / name).read_bytes()
    start = data.index(marker)
    end = data.index(end_marker, start) + len(end_marker)
    block = data[start:end]
    return data[:start] + block * rows + data[end:]


def measure(label: str, repeat: int, read: Callable[[], int]) -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        count = read()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{label:<44} {count:>8} rows {median:7.2f} s {count / median:>10,.0f} rows/s")


RULES = [
    *(("contains", f"bäckerei müller {n} /", "Bakery") for n in range(0, 16)),
    ("starts_with", "stadtwerke", "Utilities"),
    ("equals", "acme gmbh / gehalt", "Salary"),
    ("contains", "tankstelle", "Fuel"),
    ("starts_with", "rewe", "Groceries"),
]
"""20 rules: the first 16 catch the rows of 16 of the 50 bakeries (a third of the rows), the
last four none, so most descriptions are checked against every rule and two thirds go on to
the last-category lookup."""


async def _context(database: Database) -> OrgContext:
    org_id = await plain_bench.create_org(database)
    async with database.sessions() as session:
        org = await session.get_one(Org, org_id)
        user = await session.scalar(select(User).where(User.email_key == plain_bench.ADMIN_EMAIL))
        assert user is not None
        session.expunge_all()
    return OrgContext(org=OrgRead.model_validate(org), user_id=user.id, role=Role.ADMIN)


async def _timed(
    database_url: str, work: Callable[[Database, OrgContext], Awaitable[int]]
) -> tuple[int, float, float]:
    """Rows created, wall seconds, and CPU seconds of this process (reading, rules, building
    rows, the driver: what the machine's other load does not inflate much)."""
    database = Database(database_url)
    try:
        ctx = await _context(database)
        cpu = plain_bench._own_cpu_seconds()
        started = time.perf_counter()
        created = await work(database, ctx)
        seconds = time.perf_counter() - started
        return created, seconds, plain_bench._own_cpu_seconds() - cpu
    finally:
        await database.dispose()


async def _plain(database: Database, ctx: OrgContext, data: bytes) -> int:
    async with database.sessions() as session:
        report = await imports_exports_service.import_csv(
            session,
            ctx,
            io.BytesIO(data),
            dry_run=False,
            max_rows=10**7,
            max_bytes=len(data),
            size=len(data),
        )
        await session.commit()
    return report.created


async def _statement(
    database: Database, ctx: OrgContext, data: bytes, profiler: cProfile.Profile | None
) -> int:
    async with database.sessions() as session:
        account = await accounts_service.default_account(session, ctx.org_id, "EUR")
        session.add_all(
            CategoryRule(
                org_id=ctx.org_id,
                position=position,
                match=match,
                pattern=pattern,
                case_sensitive=False,
                category=category,
            )
            for position, (match, pattern, category) in enumerate(RULES, start=1)
        )
        await session.commit()
        account_id = account.id
    if profiler is not None:
        profiler.enable()
    async with database.sessions() as session:
        report = await statement_import.import_statement(
            session,
            ctx,
            account_id,
            io.BytesIO(data),
            options=statement_import.StatementOptions(mapping=GERMAN),
            dry_run=False,
            max_rows=10**7,
            max_bytes=len(data),
        )
        await session.commit()
    if profiler is not None:
        profiler.disable()
    return report.created


def plain_twin(rows: int) -> bytes:
    """The German file's rows in our own layout: same dates, amounts and notes."""
    lines = ["date,type,category,amount,currency,notes"]
    for i in range(rows):
        day = f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}"
        lines.append(
            f"{day},expense,Food,{i % 900 + 1}.{i % 100:02d},EUR,"
            f"Bäckerei Müller {i % 50} / Brötchen {i}"
        )
    return ("\n".join(lines) + "\n").encode()


def _line(label: str, rows: int, seconds: float, cpu: float) -> None:
    print(
        f"{label:<36} {rows:>8} rows {seconds:7.2f} s {rows / seconds:>9,.0f} rows/s "
        f"(client CPU {cpu:.2f} s)"
    )


async def compare_imports(database_url: str, rows: int, repeat: int, profile: bool) -> None:
    german, plain = german_csv(rows), plain_twin(rows)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, database {database_url.rsplit('@', maxsplit=1)[-1]}"
    )
    ratios: list[float] = []
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory() as work_dir:
        for run in range(repeat):
            async with plain_bench.fresh_database(database_url, Path(work_dir), f"p{run}") as url:
                created, seconds, cpu = await _timed(url, lambda db, ctx: _plain(db, ctx, plain))
            assert created == rows, created
            plain_rate = rows / seconds
            _line("plain CSV import", rows, seconds, cpu)
            async with plain_bench.fresh_database(database_url, Path(work_dir), f"s{run}") as url:
                created, seconds, cpu = await _timed(
                    url, lambda db, ctx: _statement(db, ctx, german, profiler)
                )
            assert created == rows, created
            _line("bank CSV statement (mapping, rules)", rows, seconds, cpu)
            ratios.append(rows / seconds / plain_rate)
            print(f"{'ratio of this pair':<36} {ratios[-1]:.0%}")
    print(f"median ratio over {repeat} pair(s): {statistics.median(ratios):.0%}")
    if profiler is not None:
        plain_bench._print_profile(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="time whole imports on this server (admin URL)")
    parser.add_argument("--profile", action="store_true", help="profile the statement imports")
    args = parser.parse_args()
    rows, repeat = args.rows, args.repeat
    if args.database_url:
        asyncio.run(compare_imports(args.database_url, rows, repeat, args.profile))
        return
    german, plain = german_csv(rows), plain_csv(rows)
    mapped = ReadOptions(mapping=GERMAN)

    def read_mapped() -> int:
        return len(read_statements(german, mapped).rows)

    def read_mapped_with_identities() -> int:
        return len(row_identities(read_statements(german, mapped).rows))

    def read_plain() -> int:
        return sum(1 for _ in CsvRows(io.BytesIO(plain), default_currency="EUR", max_rows=rows))

    measure("plain CSV (the import's reader)", repeat, read_plain)
    measure("bank CSV through its mapping", repeat, read_mapped)
    measure("bank CSV through its mapping + identities", repeat, read_mapped_with_identities)
    options = ReadOptions(default_currency="EUR")
    for label, data in (
        ("OFX 1.02 SGML", repeated("ofx-1.02-sgml.ofx", rows, b"<STMTTRN>", b"</STMTTRN>\r\n")),
        ("CAMT.053", repeated("camt053.xml", rows, b"<Ntry>", b"</Ntry>\n")),
        ("MT940 (one statement)", repeated("mt940.sta", rows, b":61:", b"COFFEE\r\n")),
    ):
        measure(label, repeat, functools.partial(_count_rows, data, options))


def _count_rows(data: bytes, options: ReadOptions) -> int:
    return len(read_statements(data, options).rows)


if __name__ == "__main__":
    main()
