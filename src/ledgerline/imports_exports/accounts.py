"""The account each imported row goes to: the one its ``account`` cell names, else the one the
``account_id`` parameter names for the whole file, else the default account of its currency.

A name is an account of the org, compared case-insensitively; ``Main <currency>`` of the row's
currency is its default account even before it exists (an export of default accounts
re-imports into another org). An unknown name, or an account of another currency than the
row's, is a row error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.accounts import service as accounts_service
from ledgerline.accounts.models import Account
from ledgerline.core.text import fold_key
from ledgerline.imports_exports.parsing import ImportRow
from ledgerline.imports_exports.schemas import RowError


class RowAccounts:
    def __init__(
        self, session: AsyncSession, org_id: uuid.UUID, file_account: Account | None
    ) -> None:
        self._session = session
        self._org_id = org_id
        self._file_account = file_account
        self._named: dict[str, Account] | None = None
        self._defaults: dict[str, uuid.UUID] = {}

    async def _accounts(self) -> dict[str, Account]:
        if self._named is None:
            accounts = await self._session.scalars(
                select(Account).where(Account.org_id == self._org_id)
            )
            self._named = {account.name_key: account for account in accounts}
        return self._named

    async def _named_account(self, row: ImportRow) -> Account | str | None:
        """The account the row names (None: its currency's default), or what is wrong."""
        if row.account is None:
            return self._file_account
        key = fold_key(row.account)
        account = (await self._accounts()).get(key)
        if account is None:
            if key == fold_key(f"Main {row.currency}"):
                return None
            return "no account of this organization has this name"
        return account

    async def check(self, rows: list[ImportRow], report: Callable[[RowError], None]) -> int:
        """Report the rows whose account is unknown or of another currency; their count."""
        problems = 0
        for row in rows:
            account = await self._named_account(row)
            if isinstance(account, str):
                message = account
            elif account is not None and account.currency != row.currency:
                message = (
                    f"the account '{account.name}' holds {account.currency}, not {row.currency}"
                )
            else:
                continue
            report(RowError(row=row.row, field="account", message=message))
            problems += 1
        return problems

    async def ids(self, rows: list[ImportRow]) -> list[uuid.UUID]:
        """Each (checked) row's account id, default accounts created on first use."""
        placed: list[uuid.UUID] = []
        for row in rows:
            account = await self._named_account(row)
            if isinstance(account, Account):
                placed.append(account.id)
                continue
            default = self._defaults.get(row.currency)
            if default is None:
                default = (
                    await accounts_service.default_account(
                        self._session, self._org_id, row.currency
                    )
                ).id
                self._defaults[row.currency] = default
            placed.append(default)
        return placed
