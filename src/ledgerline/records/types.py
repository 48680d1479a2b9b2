"""Record kinds without pydantic: the command line builds its options from them at start-up."""

from __future__ import annotations

from enum import StrEnum


class RecordType(StrEnum):
    """What a record can be created, changed, imported or filtered as."""

    INCOME = "income"
    EXPENSE = "expense"
