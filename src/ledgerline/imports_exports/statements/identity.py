"""Which statement rows are the same transaction, so re-importing a statement adds nothing.

A row with the bank's own id is identified by it. Without one, a row is identified by its
date, amount, type and description plus its occurrence number among the identical rows
of the file: two identical coffees on one day are occurrences 1 and 2, so they stay two
records, and a later file repeating that day (banks export overlapping ranges) matches
both and adds only a third, if it has one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from ledgerline.imports_exports.statements.model import StatementRow


class RowIdentity(NamedTuple):
    bank_id: str | None
    fingerprint: str | None
    """Hash of (date, amount, type, description, occurrence) for a row without bank id."""
    occurrence: int
    """1 for the first of identical rows without bank id in the file, 2 for the next...; 0
    when the row has a bank id."""


def content_key(row: StatementRow) -> str:
    """Date, amount, type and description as one string (readers normalize descriptions'
    whitespace, so the same bank text always gives the same key)."""
    return f"{row.date.isoformat()}\x1f{row.amount}\x1f{row.type}\x1f{row.description}"


def fingerprint(key: str, occurrence: int) -> str:
    return hashlib.sha256(f"{key}\x1f{occurrence}".encode()).hexdigest()


def row_identities(rows: Iterable[StatementRow], *, scope: str = "") -> list[RowIdentity]:
    """The identity of each row, in order; occurrences count over the whole file.

    ``scope`` (the account's id, say) enters every fingerprint, so that the same content in
    two accounts is two transactions, not one and its duplicate.
    """
    seen: Counter[str] = Counter()
    identities: list[RowIdentity] = []
    for row in rows:
        if row.bank_id:
            identities.append(RowIdentity(row.bank_id, None, 0))
            continue
        key = content_key(row)
        seen[key] += 1
        scoped = f"{scope}\x1f{key}" if scope else key
        identities.append(RowIdentity(None, fingerprint(scoped, seen[key]), seen[key]))
    return identities
