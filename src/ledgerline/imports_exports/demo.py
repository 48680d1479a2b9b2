"""``ledgerline demo``: a "Demo Company" org with one user per role and two years of records.

The records go through the real CSV import with stable ``external_id``s, so running the demo
again creates nothing twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts import transfers
from ledgerline.accounts.models import Account, AccountKind
from ledgerline.accounts.schemas import AccountCreate, TransferCreate
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core.text import fold_key
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.dependencies import OrgContext
from ledgerline.orgs.models import Membership, Org
from ledgerline.orgs.permissions import Role
from ledgerline.orgs.schemas import OrgRead
from ledgerline.users import service as users_service
from ledgerline.users.models import User

ORG_NAME = "Demo Company"
DEMO_USERS = {
    Role.ADMIN: ("demo-admin@example.com", "Dana Admin"),
    Role.ANALYST: ("demo-analyst@example.com", "Alex Analyst"),
    Role.VIEWER: ("demo-viewer@example.com", "Vic Viewer"),
}
SEED = 2026


@dataclass(frozen=True, slots=True)
class DemoAccount:
    role: Role
    email: str
    password: str | None
    """Shown only when the account is created (or its password reset)."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    org_id: uuid.UUID
    accounts: list[DemoAccount]
    created: int
    duplicates: int


def _month_starts(end: dt.date, months: int) -> list[dt.date]:
    first = dt.date(end.year, end.month, 1)
    starts = []
    for back in range(months - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        starts.append(dt.date(year, month + 1, 1))
    return starts


def demo_rows(today: dt.date, *, months: int = 24) -> Iterator[dict[str, str]]:
    """Two years of a small company's money in two currencies, seasonal (winter utilities, a
    December spike), deterministic for a given ``today``: a few thousand rows."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data, not security
    starts = _month_starts(today, months)
    start_day = starts[0]

    def row(
        key: str, day: dt.date, kind: str, category: str, amount: Decimal, notes: str
    ) -> dict[str, str]:
        return {
            "external_id": f"demo-{key}",
            "date": day.isoformat(),
            "type": kind,
            "category": category,
            "amount": f"{amount:.2f}",
            "notes": notes,
            "currency": "USD",
        }

    for index, month in enumerate(starts):
        salary = Decimal(5200) + Decimal(150) * (index // 12)
        yield row(f"salary-{month:%Y-%m}", month, "income", "Salary", salary, "Monthly payroll")
        yield row(
            f"rent-{month:%Y-%m}",
            month + dt.timedelta(days=2),
            "expense",
            "Rent",
            Decimal(1850),
            "Office rent",
        )
        heating = 120 if month.month in (12, 1, 2) else 70 if month.month in (6, 7, 8) else 25
        utilities = Decimal(95 + heating + rng.randint(0, 30))
        yield row(
            f"utilities-{month:%Y-%m}",
            month + dt.timedelta(days=14),
            "expense",
            "Utilities",
            utilities,
            "Electricity, water and heating",
        )
        if rng.random() < 0.35:
            yield row(
                f"freelance-{month:%Y-%m}",
                month + dt.timedelta(days=rng.randint(5, 25)),
                "income",
                "Consulting",
                Decimal(rng.randint(8, 30) * 100),
                "Consulting invoice",
            )
        if rng.random() < 0.25:
            cost = Decimal(rng.randint(300, 2400)) + Decimal(rng.randint(0, 99)) / 100
            yield row(
                f"travel-{month:%Y-%m}",
                month + dt.timedelta(days=rng.randint(3, 26)),
                "expense",
                "Travel",
                cost,
                rng.choice(["Client visit", "Trade fair", "Team offsite"]),
            )
        if rng.random() < 0.12:
            item, price = rng.choice(
                [
                    ("New laptop", 1899),
                    ("Standing desks", 1240),
                    ("Espresso machine", 649),
                    ("Conference screen", 2150),
                ]
            )
            yield row(
                f"purchase-{month:%Y-%m}",
                month + dt.timedelta(days=rng.randint(1, 27)),
                "expense",
                "Equipment",
                Decimal(price),
                item,
            )
    yield from _daily_rows(rng, start_day, today, row)


RowMaker = Callable[[str, dt.date, str, str, Decimal, str], dict[str, str]]
EURO_CLIENT_INCOME = Decimal(1400)


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _daily_rows(
    rng: random.Random, start: dt.date, today: dt.date, row: RowMaker
) -> Iterator[dict[str, str]]:
    """Day-by-day spending: weekly groceries, weekday lunches and transport, a euro client and
    euro software each month, and the December holiday spike (gifts, the team party)."""
    day = start
    while day <= today:
        key = day.isoformat()
        weekday = day.weekday()
        if weekday == 0:
            groceries = Decimal(rng.randint(80, 160)) + Decimal(rng.randint(0, 99)) / 100
            yield row(
                f"groceries-{key}",
                day,
                "expense",
                "Groceries",
                groceries,
                "Weekly groceries for the office",
            )
        if weekday < 5:
            for meal in range(rng.choice((1, 2, 3, 3, 4))):
                yield row(
                    f"meal-{key}-{meal}",
                    day,
                    "expense",
                    "Meals",
                    _cents(rng, 9, 38),
                    rng.choice(["Team lunch", "Client lunch", "Sandwiches", "Pizza Friday"]),
                )
            if rng.random() < 0.8:
                yield row(
                    f"transport-{key}",
                    day,
                    "expense",
                    "Transport",
                    _cents(rng, 3, 45),
                    rng.choice(["Taxi", "Train tickets", "Parking", "Fuel"]),
                )
        if weekday < 5 and rng.random() < 0.3:
            yield row(
                f"supplies-{key}",
                day,
                "expense",
                "Office supplies",
                _cents(rng, 6, 90),
                rng.choice(["Printer paper", "Toner", "Stationery", "Cleaning supplies"]),
            )
        if weekday == 2:
            yield row(
                f"ads-{key}", day, "expense", "Marketing", _cents(rng, 120, 420), "Online ads"
            )
        holiday_season = day.month in (11, 12)
        if weekday < 5 and rng.random() < (0.8 if holiday_season else 0.4):
            sale = _cents(rng, 150, 900) * (2 if holiday_season else 1)
            yield row(f"sale-{key}", day, "income", "Product sales", sale, "Online shop payout")
        if day.day == 20:
            yield row(
                f"eu-client-{key}",
                day,
                "income",
                "Consulting",
                EURO_CLIENT_INCOME,
                "Retainer, Berlin client (EUR)",
            ) | {"currency": "EUR"}
            yield row(
                f"eu-software-{key}",
                day,
                "expense",
                "Software",
                _cents(rng, 180, 260),
                "Design and accounting tools (EUR)",
            ) | {"currency": "EUR"}
        if day.month == 12 and 5 <= day.day <= 23 and weekday < 5:
            for gift in range(rng.randint(1, 3)):
                yield row(
                    f"holiday-{key}-{gift}",
                    day,
                    "expense",
                    "Gifts",
                    _cents(rng, 25, 240),
                    rng.choice(["Client gift basket", "Team gifts", "Holiday cards"]),
                )
        if day.month == 12 and day.day == 18:
            yield row(
                f"party-{key}",
                day,
                "expense",
                "Events",
                _cents(rng, 1800, 2600),
                "End-of-year party",
            )
        day += dt.timedelta(days=1)


def demo_csv(today: dt.date) -> bytes:
    buffer = io.StringIO()
    fields = ["external_id", "date", "type", "category", "amount", "notes", "currency"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    for item in demo_rows(today):
        if dt.date.fromisoformat(item["date"]) <= today:
            writer.writerow(item)
    return buffer.getvalue().encode()


async def _account(
    session: AsyncSession, hasher: PasswordHasher, role: Role, *, reset_password: bool
) -> tuple[User, DemoAccount]:
    email, name = DEMO_USERS[role]
    user = await session.scalar(select(User).where(User.email_key == fold_key(email)))
    password = None
    if user is None:
        password = secrets.token_urlsafe(12)
        user = await users_service.create_user(
            session, hasher, email=email, password=password, full_name=name
        )
    elif reset_password:
        password = secrets.token_urlsafe(12)
        user.password_hash = await hasher.hash(password)
    return user, DemoAccount(role=role, email=email, password=password)


SAVINGS = "Savings"
SAVINGS_OPENING = Decimal("8000.00")
MONTHLY_SAVING = Decimal("1500.00")


async def _savings(session: AsyncSession, ctx: OrgContext, today: dt.date) -> None:
    """A savings account fed by a transfer from the main USD account each month, so the
    balances and net worth charts have more than one line; made once, with the account."""
    found = await session.scalar(
        select(Account.id).where(
            Account.org_id == ctx.org_id, Account.name_key == fold_key(SAVINGS)
        )
    )
    if found is not None:
        return
    starts = _month_starts(today, 24)
    savings = await accounts_service.create_account(
        session,
        ctx,
        AccountCreate(
            name=SAVINGS,
            kind=AccountKind.SAVINGS,
            currency="USD",
            institution="Demo Bank",
            opening_balance=SAVINGS_OPENING,
            opening_date=starts[0],
        ),
    )
    main = await accounts_service.default_account(session, ctx.org_id, "USD")
    for start in starts:
        day = start.replace(day=28)
        if day <= today:
            await transfers.create_transfer(
                session,
                ctx,
                TransferCreate(
                    from_account_id=main.id,
                    to_account_id=savings.id,
                    amount=MONTHLY_SAVING,
                    date=day,
                    notes="Monthly saving",
                ),
            )


async def load_demo(
    session: AsyncSession, hasher: PasswordHasher, *, today: dt.date, reset_passwords: bool
) -> DemoResult:
    """Create (or complete) the demo org; the caller commits."""
    accounts: dict[Role, tuple[User, DemoAccount]] = {
        role: await _account(session, hasher, role, reset_password=reset_passwords)
        for role in DEMO_USERS
    }
    admin = accounts[Role.ADMIN][0]
    org = await session.scalar(
        select(Org)
        .join(Membership, Membership.org_id == Org.id)
        .where(Org.name == ORG_NAME, Membership.user_id == admin.id)
    )
    if org is None:
        org = Org(name=ORG_NAME, currency="USD")
        session.add(org)
        await session.flush()
    for role, (user, _account_info) in accounts.items():
        if await session.get(Membership, (org.id, user.id)) is None:
            await orgs_service.add_membership(session, org_id=org.id, user_id=user.id, role=role)
    ctx = OrgContext(org=OrgRead.model_validate(org), user_id=admin.id, role=Role.ADMIN)
    report = await imports_exports_service.import_csv(
        session,
        ctx,
        io.BytesIO(demo_csv(today)),
        dry_run=False,
        max_rows=100_000,
        max_bytes=10_000_000,
        file_name="demo.csv",
    )
    await _savings(session, ctx, today)
    return DemoResult(
        org_id=org.id,
        accounts=[info for _user, info in accounts.values()],
        created=report.created,
        duplicates=report.duplicates,
    )
