"""Every dashboard figure equals the same figure computed by brute force over the records.

Hypothesis drives the real HTTP API with a random sequence of creates, updates (of any field,
date, amount, category, type and currency included, and moves between accounts), deletes,
restores, CSV imports, new accounts and transfers (created, changed, deleted, restored),
keeping a plain Python model of the org's records, accounts and transfers. It then asks every
dashboard endpoint about random date ranges (open-ended ones included) and compares each
answer with figures recomputed here from the model, in integers and ``Decimal`` — written from
the API contract and the documented choices of the schemas, not from the implementation; a
transfer never counts there. Every account's balance at random dates, and its balance series
at every granularity over random ranges, must equal a brute-force sum over the model's records
and transfers too. Last, the stored aggregates (balances included) must equal a recount from
the records. Runs on SQLite and PostgreSQL, like every database test.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates, periods
from ledgerline.dashboard.schemas import Granularity
from tests.factories import Actor, make_org, make_user

Json = dict[str, Any]

ORG_CURRENCY = "USD"
CURRENCIES = ["USD", "EUR"]
CATEGORY_SPELLINGS = ["Food", "food", " FOOD ", "Rent", "rent", "Salary", "Café", "CAFÉ", "Travel"]
FIRST_DAY, LAST_DAY = dt.date(2022, 1, 1), dt.date(2024, 12, 31)
"""Records fall in a three-year window that crosses ISO-year boundaries (2022-01-01 is in
2021-W52); queried ranges reach a little beyond it on both sides."""
QUERY_FIRST, QUERY_LAST = dt.date(2021, 10, 1), dt.date(2025, 3, 31)
MAX_MINOR = 99_999_999_999_999
CENT = Decimal("0.01")
TOP_CATEGORIES = LARGEST_RECORDS = 5


# --- the model -------------------------------------------------------------------------------


def fold(name: str) -> str:
    return name.strip().casefold()


@dataclass
class ModelRecord:
    id: uuid.UUID
    minor: int
    currency: str
    type: str
    category: str
    """The case-folded category key."""
    date: dt.date
    created_at: dt.datetime
    deleted: bool = False
    account: str | None = None
    """The account id, or None for the default account of the record's currency."""


@dataclass
class ModelAccount:
    id: str
    currency: str
    opening: int
    opening_date: dt.date | None


@dataclass
class ModelTransfer:
    id: str
    source: str
    target: str
    minor: int
    to_minor: int
    date: dt.date
    deleted: bool = False


@dataclass
class Model:
    records: dict[uuid.UUID, ModelRecord] = field(default_factory=dict)
    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    """The accounts created by the test (the default ones are read from the API)."""
    transfers: dict[str, ModelTransfer] = field(default_factory=dict)

    def live_transfers(self, day: dt.date | None = None) -> list[ModelTransfer]:
        return [
            t for t in self.transfers.values() if not t.deleted and (day is None or t.date <= day)
        ]

    spellings: dict[str, str] = field(default_factory=dict)
    """Category key -> the spelling it was first created with."""

    def see_category(self, name: str) -> None:
        self.spellings.setdefault(fold(name), name.strip())

    scope: tuple[set[str], dict[str, str]] | None = None
    """While set, the dashboard's account filter: the accounts asked for, and the default
    account of each currency (records with ``account`` None sit there)."""

    def live(self, date_from: dt.date | None, date_to: dt.date | None) -> list[ModelRecord]:
        return [
            r
            for r in self.records.values()
            if not r.deleted
            and (date_from is None or r.date >= date_from)
            and (date_to is None or r.date <= date_to)
            and (self.scope is None or account_of(r, self.scope[1]) in self.scope[0])
        ]


def money(minor: int) -> str:
    return str((Decimal(minor) / 100).quantize(CENT))


def to_minor(text: str) -> int:
    return int(Decimal(text) * 100)


def percent(part: int, whole: int) -> str:
    """``part / whole`` in percent, exactly rounded half to even at two decimals."""
    exact = Fraction(part * 100, whole)
    hundredths = round(exact * 100)
    return str((Decimal(hundredths) / 100).quantize(CENT))


def round_half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def days(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def period_of(day: dt.date, granularity: str) -> str:
    if granularity == "day":
        return day.isoformat()
    if granularity == "month":
        return day.strftime("%Y-%m")
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def periods_between(start: dt.date, end: dt.date, granularity: str) -> list[str]:
    """Every period touched by a day of [start, end], in order: walked day by day."""
    keys: list[str] = []
    for day in days(start, end):
        key = period_of(day, granularity)
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys


def months_between(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    return sorted({(day.year, day.month) for day in days(start, end)})


# --- brute-force figures ---------------------------------------------------------------------


def expected_summary(model: Model, lo: dt.date | None, hi: dt.date | None) -> Json:
    figures: dict[str, dict[str, int]] = defaultdict(lambda: {"income": 0, "expense": 0, "n": 0})
    for record in model.live(lo, hi):
        figures[record.currency][record.type] += record.minor
        figures[record.currency]["n"] += 1

    def totals(currency: str) -> Json:
        f = figures.get(currency, {"income": 0, "expense": 0, "n": 0})
        return {
            "currency": currency,
            "total_income": money(f["income"]),
            "total_expense": money(f["expense"]),
            "net_balance": money(f["income"] - f["expense"]),
            "record_count": f["n"],
        }

    return {**totals(ORG_CURRENCY), "by_currency": [totals(c) for c in sorted(figures)]}


def expected_categories(
    model: Model, lo: dt.date | None, hi: dt.date | None, kind: str | None
) -> list[Json]:
    """Largest total first; ties by category (case-insensitively), type, then currency."""
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for record in model.live(lo, hi):
        if kind is None or record.type == kind:
            group = groups[(record.category, record.type, record.currency)]
            group[0] += record.minor
            group[1] += 1
    rows = sorted(groups.items(), key=lambda item: (-item[1][0], *item[0]))
    return [
        {
            "category": model.spellings[key],
            "type": type_,
            "total": money(total),
            "count": count,
            "currency": currency,
        }
        for (key, type_, currency), (total, count) in rows
    ]


def expected_trends(
    model: Model, lo: dt.date | None, hi: dt.date | None, granularity: str
) -> list[Json]:
    """Periods from the given bounds, else from the first and last record in the range."""
    live = model.live(lo, hi)
    if (lo is None or hi is None) and not live:
        return []
    start = lo if lo is not None else min(r.date for r in live)
    end = hi if hi is not None else max(r.date for r in live)
    currencies = sorted({r.currency for r in live}) or [ORG_CURRENCY]
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"income": 0, "expense": 0})
    for record in live:
        sums[(period_of(record.date, granularity), record.currency)][record.type] += record.minor
    points = []
    for key in periods_between(start, end, granularity):
        for currency in currencies:
            f = sums.get((key, currency), {"income": 0, "expense": 0})
            points.append(
                {
                    "period": key,
                    "income": money(f["income"]),
                    "expense": money(f["expense"]),
                    "net": money(f["income"] - f["expense"]),
                    "currency": currency,
                }
            )
    return points


def expected_recent(model: Model, lo: dt.date | None, hi: dt.date | None, limit: int) -> list[str]:
    """Latest by date, then by creation: documented as the ids' order (UUIDv7, creation time to
    the millisecond; the rows of one import share their creation)."""
    ordered = sorted(model.live(lo, hi), key=lambda r: (r.date, r.id), reverse=True)
    return [str(r.id) for r in ordered[:limit]]


def expected_insights(model: Model, lo: dt.date | None, hi: dt.date | None, currency: str) -> Json:
    """The documented definitions (``dashboard.schemas``): the period is the given range, its
    open ends taken from the first and last record of the currency; ``months`` counts every
    calendar month it touches, empty ones included, and the average and median are over those
    months, rounded half to even to the minor unit; shares and percentages are exact, rounded
    half to even at two decimals; month over month compares the period's last month (within the
    period) with the whole calendar month before it."""
    live = [r for r in model.live(lo, hi) if r.currency == currency]
    expenses = [r for r in live if r.type == "expense"]
    if (lo is None or hi is None) and not live:
        return {
            "currency": currency,
            "date_from": lo,
            "date_to": hi,
            "months": 0,
            "average": money(0),
            "median": money(0),
            "top": [],
            "month_over_month": None,
            "largest": [],
        }
    start = lo if lo is not None else min(r.date for r in live)
    end = hi if hi is not None else max(r.date for r in live)
    months = months_between(start, end)
    per_month = dict.fromkeys(months, 0)
    for record in expenses:
        per_month[(record.date.year, record.date.month)] += record.minor
    monthly = sorted(per_month.values())
    total = sum(monthly)
    middle = len(monthly) // 2
    median = (
        Fraction(monthly[middle])
        if len(monthly) % 2
        else Fraction(monthly[middle - 1] + monthly[middle], 2)
    )
    by_category: dict[str, int] = defaultdict(int)
    for record in expenses:
        by_category[record.category] += record.minor
    top = sorted(by_category.items(), key=lambda item: (-item[1], item[0]))[:TOP_CATEGORIES]

    year, month = months[-1]
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    whole_previous = [
        r
        for r in model.live(None, None)
        if r.currency == currency and (r.date.year, r.date.month) == previous
    ]
    current = [r for r in live if (r.date.year, r.date.month) == (year, month)]

    def change(kind: str) -> Json:
        now = sum(r.minor for r in current if r.type == kind)
        before = sum(r.minor for r in whole_previous if r.type == kind)
        return {
            "current": money(now),
            "previous": money(before),
            "change": money(now - before),
            "percent": percent(now - before, before) if before else None,
        }

    largest = sorted(live, key=lambda r: (r.minor, r.id), reverse=True)[:LARGEST_RECORDS]
    return {
        "currency": currency,
        "date_from": start,
        "date_to": end,
        "months": len(months),
        "average": money(round_half_even(Fraction(total, len(months)))),
        "median": money(round_half_even(median)),
        "top": [
            {
                "category": model.spellings[key],
                "total": money(amount),
                "share": percent(amount, total) if total else "0.00",
            }
            for key, amount in top
        ],
        "month_over_month": {
            "month": f"{year:04d}-{month:02d}",
            "previous_month": f"{previous[0]:04d}-{previous[1]:02d}",
            "income": change("income"),
            "expense": change("expense"),
        },
        "largest": [str(r.id) for r in largest],
    }


def actual_insights(body: Json) -> Json:
    def day(value: str | None) -> dt.date | None:
        return None if value is None else dt.date.fromisoformat(value)

    return {
        "currency": body["currency"],
        "date_from": day(body["date_from"]),
        "date_to": day(body["date_to"]),
        "months": body["monthly_expense"]["months"],
        "average": body["monthly_expense"]["average"],
        "median": body["monthly_expense"]["median"],
        "top": body["top_expense_categories"],
        "month_over_month": body["month_over_month"],
        "largest": [r["id"] for r in body["largest_records"]],
    }


def account_of(record: ModelRecord, defaults: dict[str, str]) -> str:
    return record.account or defaults[record.currency]


def expected_balance(
    model: Model, account: ModelAccount, defaults: dict[str, str], day: dt.date
) -> int:
    """Opening balance (from its date on) plus income minus expense, plus transfers in minus
    transfers out, live ones to ``day``."""
    total = account.opening if account.opening_date is None or account.opening_date <= day else 0
    for record in model.live(None, day):
        if account_of(record, defaults) == account.id:
            total += record.minor if record.type == "income" else -record.minor
    for transfer in model.live_transfers(day):
        if transfer.source == account.id:
            total -= transfer.minor
        if transfer.target == account.id:
            total += transfer.to_minor
    return total


def expected_series(
    model: Model,
    account: ModelAccount,
    defaults: dict[str, str],
    lo: dt.date | None,
    hi: dt.date | None,
    granularity: str,
) -> list[Json]:
    """End-of-period balances; open ends from the account's first and last live record or its
    opening date."""
    known = [r.date for r in model.live(None, None) if account_of(r, defaults) == account.id]
    known.extend(t.date for t in model.live_transfers() if account.id in (t.source, t.target))
    if account.opening_date is not None:
        known.append(account.opening_date)
    if lo is None or hi is None:
        if not known:
            return []
        lo = lo if lo is not None else min(known)
        hi = hi if hi is not None else max(known)
        if lo > hi:
            return []
    last_day: dict[str, dt.date] = {}
    for day in days(lo, hi):
        last_day[period_of(day, granularity)] = day
    return [
        {"period": key, "balance": money(expected_balance(model, account, defaults, end))}
        for key, end in last_day.items()
    ]


def expected_net_worth(
    model: Model,
    accounts: dict[str, ModelAccount],
    defaults: dict[str, str],
    lo: dt.date | None,
    hi: dt.date | None,
    granularity: str,
    names: dict[str, str],
    *,
    by_account: bool,
) -> list[Json]:
    """Every account's end-of-period balance summed per currency (or per account, in name
    order), the open ends from any account's first or last record, transfer or opening."""
    known = [r.date for r in model.live(None, None)]
    known.extend(t.date for t in model.live_transfers())
    known.extend(a.opening_date for a in accounts.values() if a.opening_date is not None)
    if lo is None or hi is None:
        if not known:
            return []
        lo = lo if lo is not None else min(known)
        hi = hi if hi is not None else max(known)
        if lo > hi:
            return []
    last_day: dict[str, dt.date] = {}
    for day in days(lo, hi):
        last_day[period_of(day, granularity)] = day
    ordered = sorted(accounts.values(), key=lambda a: (names[a.id].casefold(), a.id))
    points: list[Json] = []
    for key, end in last_day.items():
        balances = {a.id: expected_balance(model, a, defaults, end) for a in ordered}
        if by_account:
            points.extend(
                {"period": key, "currency": a.currency, "balance": money(balances[a.id]),
                 "account_id": a.id}
                for a in ordered
            )  # fmt: skip
            continue
        for currency in sorted({a.currency for a in ordered}):
            total = sum(balances[a.id] for a in ordered if a.currency == currency)
            points.append({"period": key, "currency": currency, "balance": money(total)})
    return points


# --- driving the API -------------------------------------------------------------------------


minor_amounts = st.one_of(
    st.integers(1, 50_000),
    st.integers(1, MAX_MINOR),
    st.just(MAX_MINOR),
)
CLUSTER = st.dates(dt.date(2023, 11, 20), dt.date(2024, 2, 10))
"""Half the dates fall in a few busy months across a year end, so ranges cut through data."""
record_dates = st.dates(FIRST_DAY, LAST_DAY) | CLUSTER
types = st.sampled_from(["income", "expense"])
categories = st.sampled_from(CATEGORY_SPELLINGS)
UPDATABLE = ["amount", "type", "category", "date", "currency", "notes"]


class Driver:
    """Applies operations through the API and to the model alike."""

    def __init__(self, client: httpx.AsyncClient, org_id: uuid.UUID, admin: Actor) -> None:
        self.client, self.admin, self.model = client, admin, Model()
        self.imported = 0
        self.records = f"/orgs/{org_id}/records"
        self.dashboard = f"/orgs/{org_id}/dashboard"
        self.accounts = f"/orgs/{org_id}/accounts"
        self.transfers = f"/orgs/{org_id}/transfers"

    async def create(self, data: st.DataObject) -> None:
        minor = data.draw(minor_amounts, label="amount")
        body: Json = {
            "amount": money(minor),
            "type": data.draw(types, label="type"),
            "category": data.draw(categories, label="category"),
            "date": data.draw(record_dates, label="date").isoformat(),
        }
        currency = data.draw(st.sampled_from([None, *CURRENCIES]), label="currency")
        if currency is not None:
            body["currency"] = currency
        account = await self._draw_account(data, currency or ORG_CURRENCY)
        if account is not None:
            body["account_id"] = account
        response = await self.client.post(self.records, json=body, headers=self.admin.headers)
        assert response.status_code == 201, response.text
        created = response.json()
        self.model.see_category(body["category"])
        record_id = uuid.UUID(created["id"])
        self.model.records[record_id] = ModelRecord(
            id=record_id,
            minor=minor,
            currency=currency or ORG_CURRENCY,
            type=body["type"],
            category=fold(body["category"]),
            date=dt.date.fromisoformat(body["date"]),
            created_at=dt.datetime.fromisoformat(created["created_at"]),
            account=account,
        )
        assert created["currency"] == self.model.records[record_id].currency

    async def open_account(self, data: st.DataObject) -> None:
        """A new account, with an opening balance of either sign from a date or always."""
        currency = data.draw(st.sampled_from(CURRENCIES), label="account currency")
        opening = data.draw(st.integers(-(10**9), 10**9), label="opening")
        opening_date = data.draw(st.none() | record_dates, label="opening date")
        body: Json = {
            "name": f"Account {len(self.model.accounts) + 1}",
            "currency": currency,
            "opening_balance": money(opening),
        }
        if opening_date is not None:
            body["opening_date"] = opening_date.isoformat()
        response = await self.client.post(self.accounts, json=body, headers=self.admin.headers)
        assert response.status_code == 201, response.text
        account_id = response.json()["id"]
        self.model.accounts[account_id] = ModelAccount(account_id, currency, opening, opening_date)

    async def _draw_account(self, data: st.DataObject, currency: str) -> str | None:
        """One of the test's accounts in ``currency``, or None (the default account)."""
        choices = sorted(a.id for a in self.model.accounts.values() if a.currency == currency)
        return data.draw(st.sampled_from([None, *choices]), label="account")

    async def move(self, data: st.DataObject) -> None:
        """Move a record to another account, its currency with it when the account's differs."""
        record = self._pick(data, deleted=False)
        if record is None or not self.model.accounts:
            return
        target = data.draw(st.sampled_from(sorted(self.model.accounts)), label="to account")
        account = self.model.accounts[target]
        body: Json = {"account_id": target}
        if account.currency != record.currency:
            body["currency"] = account.currency
        response = await self.client.patch(
            f"{self.records}/{record.id}", json=body, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["account_id"] == target
        record.account, record.currency = target, account.currency

    async def transfer(self, data: st.DataObject) -> None:
        """A transfer between two accounts, defaults included; an amount arrives in the
        target's currency (drawn apart when the currencies differ)."""
        listed = {a["id"]: a["currency"] for a in await self._accounts()}
        ids = sorted(listed)
        if len(ids) < 2:
            return
        source = data.draw(st.sampled_from(ids), label="from")
        target = data.draw(st.sampled_from([i for i in ids if i != source]), label="to")
        minor = data.draw(minor_amounts, label="transfer amount")
        body: Json = {
            "from_account_id": source,
            "to_account_id": target,
            "amount": money(minor),
            "date": data.draw(record_dates, label="transfer date").isoformat(),
        }
        to_minor = minor
        if listed[source] != listed[target]:
            to_minor = data.draw(minor_amounts, label="to amount")
            body["to_amount"] = money(to_minor)
        response = await self.client.post(self.transfers, json=body, headers=self.admin.headers)
        assert response.status_code == 201, response.text
        created = response.json()
        self.model.transfers[created["id"]] = ModelTransfer(
            created["id"], source, target, minor, to_minor, dt.date.fromisoformat(body["date"])
        )

    def _pick_transfer(self, data: st.DataObject, *, deleted: bool) -> ModelTransfer | None:
        choices = sorted(t.id for t in self.model.transfers.values() if t.deleted is deleted)
        if not choices:
            return None
        return self.model.transfers[data.draw(st.sampled_from(choices), label="transfer")]

    async def change_transfer(self, data: st.DataObject) -> None:
        transfer = self._pick_transfer(data, deleted=False)
        if transfer is None:
            return
        body: Json = {}
        if data.draw(st.booleans(), label="new amount"):
            transfer.minor = data.draw(minor_amounts, label="amount")
            body["amount"] = money(transfer.minor)
        if data.draw(st.booleans(), label="new date"):
            transfer.date = data.draw(record_dates, label="date")
            body["date"] = transfer.date.isoformat()
        response = await self.client.patch(
            f"{self.transfers}/{transfer.id}", json=body, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        if response.json()["currency"] == response.json()["to_currency"]:
            transfer.to_minor = transfer.minor
        assert to_minor(response.json()["to_amount"]) == transfer.to_minor

    async def delete_transfer(self, data: st.DataObject) -> None:
        transfer = self._pick_transfer(data, deleted=False)
        if transfer is None:
            return
        response = await self.client.delete(
            f"{self.transfers}/{transfer.id}", headers=self.admin.headers
        )
        assert response.status_code == 204, response.text
        transfer.deleted = True

    async def restore_transfer(self, data: st.DataObject) -> None:
        transfer = self._pick_transfer(data, deleted=True)
        if transfer is None:
            return
        response = await self.client.post(
            f"{self.transfers}/{transfer.id}/restore", headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        transfer.deleted = False

    def _pick(self, data: st.DataObject, *, deleted: bool) -> ModelRecord | None:
        choices = sorted(
            (r for r in self.model.records.values() if r.deleted is deleted), key=lambda r: r.id
        )
        return data.draw(st.sampled_from(choices), label="record") if choices else None

    async def update(self, data: st.DataObject) -> None:
        record = self._pick(data, deleted=False)
        if record is None:
            return
        fields = data.draw(st.sets(st.sampled_from(UPDATABLE), min_size=1), label="fields")
        body: Json = {}
        if "amount" in fields:
            body["amount"] = money(data.draw(minor_amounts, label="amount"))
        if "type" in fields:
            body["type"] = data.draw(types, label="type")
        if "category" in fields:
            body["category"] = data.draw(categories, label="category")
        if "date" in fields:
            body["date"] = data.draw(record_dates, label="date").isoformat()
        if "currency" in fields:
            body["currency"] = data.draw(st.sampled_from(CURRENCIES), label="currency")
            if body["currency"] != record.currency:
                record.account = None
        if "notes" in fields:
            body["notes"] = data.draw(st.sampled_from([None, "paid", "Food?"]), label="notes")
        response = await self.client.patch(
            f"{self.records}/{record.id}", json=body, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        if "amount" in body:
            record.minor = to_minor(body["amount"])
        record.type = body.get("type", record.type)
        record.currency = body.get("currency", record.currency)
        if "category" in body:
            self.model.see_category(body["category"])
            record.category = fold(body["category"])
        if "date" in body:
            record.date = dt.date.fromisoformat(body["date"])
        answered = response.json()
        assert (to_minor(answered["amount"]), answered["currency"]) == (
            record.minor,
            record.currency,
        )

    async def import_csv(self, data: st.DataObject) -> None:
        """A CSV import of a few rows (unique external ids, so none is a duplicate)."""
        rows = data.draw(
            st.lists(
                st.tuples(
                    record_dates,
                    types,
                    st.sampled_from([c for c in CATEGORY_SPELLINGS if c == c.strip()]),
                    minor_amounts,
                    st.sampled_from(CURRENCIES),
                ),
                min_size=1,
                max_size=4,
            ),
            label="import",
        )
        lines = ["date,type,category,amount,currency,external_id"]
        for day, kind, category, minor, currency in rows:
            self.imported += 1
            lines.append(f"{day},{kind},{category},{money(minor)},{currency},x{self.imported}")
            self.model.see_category(category)
        response = await self.client.post(
            f"{self.records}/import",
            files={"file": ("records.csv", "\n".join(lines).encode(), "text/csv")},
            headers=self.admin.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["created"] == len(rows)
        await self._adopt_new_records(len(rows))

    async def _adopt_new_records(self, expected: int) -> None:
        """Add the records the model does not know yet (an import's) as the API lists them."""
        response = await self.client.get(
            self.records, params={"sort": "-created_at", "limit": 200}, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        new = [
            r
            for r in response.json()["items"]
            if uuid.UUID(r["id"]) not in self.model.records and r["transfer_id"] is None
        ]
        assert len(new) == expected
        for item in new:
            record = ModelRecord(
                id=uuid.UUID(item["id"]),
                minor=to_minor(item["amount"]),
                currency=item["currency"],
                type=item["type"],
                category=fold(item["category"]),
                date=dt.date.fromisoformat(item["date"]),
                created_at=dt.datetime.fromisoformat(item["created_at"]),
            )
            assert self.model.spellings[record.category] == item["category"]
            self.model.records[record.id] = record

    async def delete(self, data: st.DataObject) -> None:
        record = self._pick(data, deleted=False)
        if record is None:
            return
        response = await self.client.delete(
            f"{self.records}/{record.id}", headers=self.admin.headers
        )
        assert response.status_code == 204, response.text
        record.deleted = True

    async def restore(self, data: st.DataObject) -> None:
        record = self._pick(data, deleted=True)
        if record is None:
            return
        response = await self.client.post(
            f"{self.records}/{record.id}/restore", headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        record.deleted = False

    async def get(self, endpoint: str, **params: object) -> Any:
        query = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in params.items()}
        query = {k: v for k, v in query.items() if v is not None}
        pairs = list(query.items())
        if self.model.scope is not None:
            pairs.extend(("account_id", account) for account in sorted(self.model.scope[0]))
        response = await self.client.get(
            f"{self.dashboard}/{endpoint}", params=pairs, headers=self.admin.headers
        )
        assert response.status_code == 200, (endpoint, query, response.text)
        return response.json()

    async def check(self, lo: dt.date | None, hi: dt.date | None, data: st.DataObject) -> None:
        """Every figure, for all accounts or only for a drawn set of them."""
        listed = await self._accounts()
        ids = sorted(a["id"] for a in listed)
        only = data.draw(st.none() | st.sets(st.sampled_from(ids), min_size=1), label="only")
        if only is not None:
            defaults = {a["currency"]: a["id"] for a in listed if a["is_default"]}
            self.model.scope = (only, defaults)
        try:
            await self.check_dashboard(lo, hi, data)
        finally:
            self.model.scope = None
        await self.check_balances(lo, hi, data)

    async def check_dashboard(
        self, lo: dt.date | None, hi: dt.date | None, data: st.DataObject
    ) -> None:
        model, dates = self.model, {"date_from": lo, "date_to": hi}
        assert await self.get("summary", **dates) == expected_summary(model, lo, hi)
        for kind in (None, "income", "expense"):
            answered = await self.get("categories", **dates, type=kind)
            assert answered == expected_categories(model, lo, hi, kind), kind
        for granularity in ("day", "week", "month"):
            answered = await self.get("trends", **dates, granularity=granularity)
            assert answered == expected_trends(model, lo, hi, granularity), granularity
        limit = data.draw(st.integers(1, 50), label="limit")
        recent = await self.get("recent", **dates, limit=limit)
        assert [r["id"] for r in recent] == expected_recent(model, lo, hi, limit)
        assert [r["id"] for r in await self.get("recent", **dates)] == expected_recent(
            model, lo, hi, 10
        )
        for currency in (None, "EUR"):
            answered = actual_insights(await self.get("insights", **dates, currency=currency))
            assert answered == expected_insights(model, lo, hi, currency or ORG_CURRENCY)

    async def _accounts(self, **params: str) -> list[Json]:
        response = await self.client.get(self.accounts, params=params, headers=self.admin.headers)
        assert response.status_code == 200, response.text
        accounts: list[Json] = response.json()
        return accounts

    async def check_balances(
        self, lo: dt.date | None, hi: dt.date | None, data: st.DataObject
    ) -> None:
        """Every account's balance at a date, and its balance series, against the model."""
        listed = await self._accounts()
        defaults = {a["currency"]: a["id"] for a in listed if a["is_default"]}
        accounts = dict(self.model.accounts)
        for account in listed:
            if account["is_default"]:
                accounts[account["id"]] = ModelAccount(account["id"], account["currency"], 0, None)
        assert {a["id"] for a in listed} == set(accounts)
        on = data.draw(query_dates.filter(lambda day: day is not None), label="on")
        at = {a["id"]: a["balance"] for a in await self._accounts(on=on.isoformat())}
        for account in accounts.values():
            assert at[account.id] == money(expected_balance(self.model, account, defaults, on))
        today = dt.datetime.now(dt.UTC).date()
        for item in listed:
            expected = expected_balance(self.model, accounts[item["id"]], defaults, today)
            assert item["balance"] == money(expected)
        names = {a["id"]: a["name"] for a in listed}
        granularity = data.draw(st.sampled_from(["week", "month"]), label="net worth grain")
        by_account = data.draw(st.booleans(), label="by account")
        query = {"date_from": lo, "date_to": hi, "granularity": granularity}
        if by_account:
            query["by"] = "account"
        answered = await self.get("balances", **query)
        assert answered == expected_net_worth(
            self.model, accounts, defaults, lo, hi, granularity, names, by_account=by_account
        )
        account = accounts[data.draw(st.sampled_from(sorted(accounts)), label="series account")]
        for granularity in ("day", "week", "month"):
            query = {"date_from": lo, "date_to": hi, "granularity": granularity}
            params = {k: str(v) for k, v in query.items() if v is not None}
            response = await self.client.get(
                f"{self.accounts}/{account.id}/balances", params=params, headers=self.admin.headers
            )
            assert response.status_code == 200, response.text
            assert response.json() == expected_series(
                self.model, account, defaults, lo, hi, granularity
            ), granularity


OPERATIONS = [
    "create",
    "create",
    "create",
    "update",
    "update",
    "delete",
    "restore",
    "import_csv",
    "open_account",
    "move",
    "transfer",
    "transfer",
    "change_transfer",
    "delete_transfer",
    "restore_transfer",
]
month_starts = st.dates(QUERY_FIRST, QUERY_LAST).map(lambda day: day.replace(day=1))
month_ends = st.dates(QUERY_FIRST, QUERY_LAST).map(
    lambda day: day.replace(day=calendar.monthrange(day.year, day.month)[1])
)
query_dates = st.none() | st.dates(QUERY_FIRST, QUERY_LAST) | CLUSTER | month_starts | month_ends
"""Month boundaries too: a range is read as whole months plus the days at its ends."""


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_dashboard_figure_matches_a_recount(
    data: st.DataObject, app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A fresh user and org per example: examples share the app (and its rate limits).
    admin = await make_user(app)
    driver = Driver(client, await make_org(app, owner=admin, currency=ORG_CURRENCY), admin)
    for operation in data.draw(st.lists(st.sampled_from(OPERATIONS), max_size=30), label="ops"):
        await getattr(driver, operation)(data)

    for _ in range(3):
        lo, hi = data.draw(query_dates, label="date_from"), data.draw(query_dates, label="to")
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        await driver.check(lo, hi, data)

    database: Database = app.state.database
    org_id = uuid.UUID(driver.records.split("/")[2])
    async with database.sessions() as session:
        assert await aggregates.find_drift(session, org_id) == []


# --- the helpers the figures rest on ---------------------------------------------------------

GRANULARITIES = list(Granularity)
any_dates = st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31))


@given(
    start=any_dates,
    length=st.integers(0, 800),
    granularity=st.sampled_from(GRANULARITIES),
)
def test_period_keys_are_every_period_touched_in_order(
    start: dt.date, length: int, granularity: Granularity
) -> None:
    end = min(start + dt.timedelta(days=length), dt.date(2199, 12, 31))
    keys = list(periods.period_keys(start, end, granularity))
    assert keys == periods_between(start, end, granularity.value)
    assert periods.period_count(start, end, granularity) == len(keys)


@given(day=any_dates)
def test_period_key_functions_agree_with_the_calendar(day: dt.date) -> None:
    assert periods.day_key(day) == period_of(day, "day")
    assert periods.week_key(day) == period_of(day, "week")
    assert periods.month_key(day) == period_of(day, "month")


@given(month=st.dates(dt.date(1900, 2, 1), dt.date(2199, 12, 31)))
def test_previous_month_is_the_calendar_month_before(month: dt.date) -> None:
    before = month.replace(day=1) - dt.timedelta(days=1)
    assert periods.previous_month(periods.month_key(month)) == periods.month_key(before)


@given(amounts=st.lists(st.integers(1, 10**16), max_size=50))
def test_split_halves_sum_back_to_the_exact_total(amounts: list[int]) -> None:
    halves = [aggregates.split(amount) for amount in amounts]
    assert all(0 <= low < aggregates.HALF and high >= 0 for high, low in halves)
    total_high = sum(high for high, _ in halves)
    total_low = sum(low for _, low in halves)
    assert aggregates.join_halves(total_high, total_low) == sum(amounts)
    assert aggregates.join_halves(None, None) == 0


def _days_of(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


@given(
    first=st.none() | any_dates | st.just(dt.date.min),
    length=st.none() | st.integers(0, 800),
)
def test_a_range_splits_into_whole_months_and_the_days_at_its_ends(
    first: dt.date | None, length: int | None
) -> None:
    last = None if length is None else (first or dt.date(2000, 1, 1)) + dt.timedelta(length)
    split = periods.split_by_month(first, last)
    if split.months is not None:
        assert all(month.day == 1 for month in split.months)
        assert split.months[0] <= split.months[1]
    assert len(split.edges) <= 2
    assert all(not periods.split_by_month(*edge).months for edge in split.edges)
    if first is None or last is None:
        return
    months: set[dt.date] = set()
    if split.months is not None:
        month_end = split.months[1].replace(
            day=calendar.monthrange(split.months[1].year, split.months[1].month)[1]
        )
        months = _days_of(split.months[0], month_end)
    edges = [_days_of(*edge) for edge in split.edges]
    covered = [months, *edges]
    assert sum(map(len, covered)) == len(set().union(*covered)), "parts overlap"
    assert set().union(*covered) == _days_of(first, last)
