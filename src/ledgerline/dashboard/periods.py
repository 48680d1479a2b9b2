"""Calendar periods (day, ISO week, month): the key of a day's period and their sequence."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from ledgerline.dashboard.schemas import Granularity

MAX_PERIODS = 3660


def day_key(day: dt.date) -> str:
    return day.isoformat()


def week_key(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


KEYS = {Granularity.DAY: day_key, Granularity.WEEK: week_key, Granularity.MONTH: month_key}


def period_count(start: dt.date, end: dt.date, granularity: Granularity) -> int:
    if granularity is Granularity.DAY:
        return (end - start).days + 1
    if granularity is Granularity.WEEK:
        monday = start - dt.timedelta(days=start.weekday())
        return (end - monday).days // 7 + 1
    return (end.year - start.year) * 12 + end.month - start.month + 1


def period_keys(start: dt.date, end: dt.date, granularity: Granularity) -> Iterator[str]:
    """Every period key from the one holding ``start`` to the one holding ``end``, in order."""
    if granularity is Granularity.MONTH:
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            yield f"{year}-{month:02d}"
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return
    step = dt.timedelta(days=1 if granularity is Granularity.DAY else 7)
    current = start if granularity is Granularity.DAY else start - dt.timedelta(start.weekday())
    key = KEYS[granularity]
    while current <= end:
        yield key(current)
        current += step


def previous_month(key: str) -> str:
    year, month = (int(part) for part in key.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_of(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class MonthSplit:
    """A date range as the whole calendar months inside it (their first days, inclusive) and
    the days at either end outside them (inclusive ranges)."""

    months: tuple[dt.date, dt.date] | None
    edges: tuple[tuple[dt.date, dt.date], ...]


def split_by_month(first: dt.date | None, last: dt.date | None) -> MonthSplit:
    """An open end is the end of the calendar. Computed on month numbers, so ranges at the ends
    of the calendar need no special case."""
    first, last = first or dt.date.min, last or dt.date.max
    first_month = _month_index(first) + (first.day != 1)
    ends_month = last.day == calendar.monthrange(last.year, last.month)[1]
    last_month = _month_index(last) - (not ends_month)
    if first_month > last_month:
        return MonthSplit(None, ((first, last),))
    edges = []
    if first.day != 1:
        edges.append((first, _month_of(first_month) - dt.timedelta(days=1)))
    if not ends_month:
        edges.append((_month_of(last_month + 1), last))
    return MonthSplit((_month_of(first_month), _month_of(last_month)), tuple(edges))
