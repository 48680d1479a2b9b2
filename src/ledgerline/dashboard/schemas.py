from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator

from ledgerline.core.money import PublishedCurrency, normalize_currency
from ledgerline.core.schemas import RequestModel, ResponseModel, ends_after_start
from ledgerline.records.schemas import RecordDate, RecordRead, RecordType

Money = Annotated[str, Field(examples=["1234.50"], description="decimal string")]


class DateRange(RequestModel):
    date_from: RecordDate | None = None
    date_to: RecordDate | None = None

    _ordered_dates = field_validator("date_to")(ends_after_start)


class DashboardRange(DateRange):
    """The dates, and the accounts whose records count (all when none is given)."""

    account_id: list[uuid.UUID] = Field(
        default_factory=list, description="only these accounts' records; may repeat"
    )


class CategoriesQuery(DashboardRange):
    type: RecordType | None = None


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class TrendsQuery(DashboardRange):
    granularity: Granularity = Granularity.MONTH


class RecentQuery(DashboardRange):
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class InsightsQuery(DashboardRange):
    currency: Annotated[
        Annotated[str, PublishedCurrency] | None,
        Field(description="defaults to the org's currency"),
    ] = None

    @field_validator("currency")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else normalize_currency(value)


class CurrencyTotals(ResponseModel):
    currency: str
    total_income: Money
    total_expense: Money
    net_balance: Money
    record_count: int


class Summary(ResponseModel):
    currency: str = Field(description="the org's currency, which the top-level figures are in")
    total_income: Money
    total_expense: Money
    net_balance: Money
    record_count: int
    by_currency: list[CurrencyTotals]


class CategoryTotal(ResponseModel):
    category: str
    type: RecordType
    total: Money
    count: int
    currency: str


class TrendPoint(ResponseModel):
    period: str = Field(examples=["2026-03", "2026-W09", "2026-03-01"])
    income: Money
    expense: Money
    net: Money
    currency: str


class MonthlyExpense(ResponseModel):
    months: int = Field(description="calendar months the period touches, empty ones included")
    average: Money = Field(
        description="the period's expense divided by `months`, rounded half to even"
    )
    median: Money = Field(
        description="median of the monthly expense totals (empty months count as zero), "
        "rounded half to even"
    )


class CategoryShare(ResponseModel):
    category: str
    total: Money
    share: str = Field(description="percent of the period's total expense, 2 decimals")


class Change(ResponseModel):
    current: Money
    previous: Money
    change: Money
    percent: str | None = Field(description="null when the previous month is zero")


class MonthOverMonth(ResponseModel):
    month: str = Field(description="the period's last month; counted within the period")
    previous_month: str = Field(description="the calendar month before it, counted whole")
    income: Change
    expense: Change


class Insights(ResponseModel):
    currency: str = Field(description="every figure is for this currency's records")
    date_from: dt.date | None = Field(
        description="the period: the given dates, an open end taken from the first or last "
        "record of the currency"
    )
    date_to: dt.date | None
    monthly_expense: MonthlyExpense
    top_expense_categories: list[CategoryShare] = Field(
        description="the five largest expense categories, largest first"
    )
    month_over_month: MonthOverMonth | None = Field(description="null when the period is empty")
    largest_records: list[RecordRead] = Field(
        description="the five largest records of the period, income or expense"
    )
