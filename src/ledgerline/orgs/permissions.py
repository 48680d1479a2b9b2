"""The permission matrix of the API contract as data: the one place roles map to actions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


class Permission(StrEnum):
    ORG_READ = "org:read"
    RECORDS_READ = "records:read"
    DASHBOARD_READ = "dashboard:read"
    INSIGHTS_READ = "insights:read"
    RECORDS_WRITE = "records:write"
    RECORDS_IMPORT = "records:import"
    RECORDS_EXPORT = "records:export"
    RECORDS_DELETE = "records:delete"
    AUDIT_READ = "audit:read"
    MEMBERS_MANAGE = "members:manage"
    ORG_MANAGE = "org:manage"
    IMPORT_JOBS_MANAGE = "import-jobs:manage"
    """See and cancel every member's import jobs (each importer sees its own)."""
    ACCOUNTS_READ = "accounts:read"
    ACCOUNTS_MANAGE = "accounts:manage"
    TRANSFERS_WRITE = "transfers:write"
    TRANSFERS_DELETE = "transfers:delete"
    ACCOUNTS_RECONCILE = "accounts:reconcile"
    STATEMENTS_IMPORT = "statements:import"
    """Import a bank's statement file into an account."""
    IMPORT_SETTINGS_MANAGE = "import-settings:manage"
    """See and change the org's import profiles and category rules."""


_VIEWER = frozenset(
    {
        Permission.ORG_READ,
        Permission.RECORDS_READ,
        Permission.DASHBOARD_READ,
        Permission.ACCOUNTS_READ,
    }
)
_ANALYST = _VIEWER | {
    Permission.INSIGHTS_READ,
    Permission.RECORDS_WRITE,
    Permission.RECORDS_IMPORT,
    Permission.RECORDS_EXPORT,
    Permission.TRANSFERS_WRITE,
    Permission.ACCOUNTS_RECONCILE,
    Permission.STATEMENTS_IMPORT,
    Permission.IMPORT_SETTINGS_MANAGE,
}
_ADMIN = _ANALYST | {
    Permission.RECORDS_DELETE,
    Permission.AUDIT_READ,
    Permission.MEMBERS_MANAGE,
    Permission.ORG_MANAGE,
    Permission.IMPORT_JOBS_MANAGE,
    Permission.ACCOUNTS_MANAGE,
    Permission.TRANSFERS_DELETE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.ANALYST: _ANALYST,
    Role.ADMIN: _ADMIN,
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
