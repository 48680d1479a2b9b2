"""The category of each imported statement row, first found of:

1. the file's own (QIF ``L``, a CSV mapping's ``category_column``);
2. the org's category rules, first match in order;
3. the category of the org's most recent live record with the same description (notes);
4. none: the caller files it under ``Uncategorized``.

Steps 2 and 3 are the ``Categoriser`` of the category rules, asked once about the distinct
descriptions still without a category: a statement of 100,000 card payments at 300 shops asks
about 300 descriptions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.imports_exports.category_rules.service import Categoriser
from ledgerline.imports_exports.statements import StatementRow


async def categorise(
    session: AsyncSession, org_id: uuid.UUID, rows: Sequence[StatementRow]
) -> list[str | None]:
    """Each row's category, or None where nothing gives one."""
    own = [_own(row) for row in rows]
    wanted = list(
        dict.fromkeys(
            row.description for row, category in zip(rows, own, strict=True) if category is None
        )
    )
    found: dict[str, str | None] = {}
    if wanted:
        categoriser = await Categoriser.load(session, org_id)
        found = dict(zip(wanted, await categoriser.categories_for(wanted), strict=True))
    return [
        category if category is not None else found.get(row.description)
        for row, category in zip(rows, own, strict=True)
    ]


def _own(row: StatementRow) -> str | None:
    return row.category.strip() or None if row.category else None
