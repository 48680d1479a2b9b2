"""Every table, imported in one place for Alembic and the tests."""

from __future__ import annotations

from ledgerline.accounts.models import Account, AccountDailyBalance, AccountMonthlyBalance
from ledgerline.audit.models import AuditEntry
from ledgerline.auth.models import Login, RefreshToken
from ledgerline.core.db import Base
from ledgerline.core.idempotency import IdempotencyKey
from ledgerline.core.instance import InstanceSetting
from ledgerline.dashboard.models import DailyTotal, DailyTypeTotal, MonthlyTotal
from ledgerline.imports_exports.category_rules.models import CategoryRule
from ledgerline.imports_exports.models import ImportJob
from ledgerline.imports_exports.profiles.models import ImportProfile
from ledgerline.orgs.models import Membership, Org
from ledgerline.records.models import Category, Record
from ledgerline.users.models import User
from ledgerline.web.models import WebSession

metadata = Base.metadata

__all__ = [
    "Account",
    "AccountDailyBalance",
    "AccountMonthlyBalance",
    "AuditEntry",
    "Category",
    "CategoryRule",
    "DailyTotal",
    "DailyTypeTotal",
    "IdempotencyKey",
    "ImportJob",
    "ImportProfile",
    "InstanceSetting",
    "Login",
    "Membership",
    "MonthlyTotal",
    "Org",
    "Record",
    "RefreshToken",
    "User",
    "WebSession",
    "metadata",
]
