"""Builds the application: settings, database, security parts, routers, error handling."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from ledgerline import __version__
from ledgerline.accounts.router import router as accounts_router
from ledgerline.audit.router import router as audit_router
from ledgerline.auth.passwords import PasswordHasher
from ledgerline.auth.router import router as auth_router
from ledgerline.auth.tokens import AccessTokens
from ledgerline.core import migrations
from ledgerline.core.config import Settings, get_settings
from ledgerline.core.db import Database, Timeouts
from ledgerline.core.errors import install_error_handlers
from ledgerline.core.health import router as health_router
from ledgerline.core.instance import get_or_create_secret
from ledgerline.core.memory import freeze_startup_objects
from ledgerline.core.observability import Metrics, RequestContextMiddleware, configure_logging
from ledgerline.core.openapi import check_unique_operation_ids, error_responses, operation_id
from ledgerline.core.protocol import HeadAsGet, ProtectiveHeaders
from ledgerline.core.ratelimit import RateLimiter
from ledgerline.dashboard.router import router as dashboard_router
from ledgerline.imports_exports.category_rules.router import router as category_rules_router
from ledgerline.imports_exports.jobs import JobRunner
from ledgerline.imports_exports.profiles.router import router as import_profiles_router
from ledgerline.imports_exports.router import jobs_router as import_jobs_router
from ledgerline.imports_exports.router import router as imports_exports_router
from ledgerline.imports_exports.router import statements_router
from ledgerline.orgs.router import router as orgs_router
from ledgerline.records.router import router as records_router
from ledgerline.users.router import router as users_router
from ledgerline.web.router import install_web_app

API_PREFIX = "/api/v1"


DOMAIN_ROUTERS = (
    records_router,
    dashboard_router,
    accounts_router,
    auth_router,
    users_router,
    orgs_router,
    imports_exports_router,
    import_jobs_router,
    import_profiles_router,
    category_rules_router,
    statements_router,
    audit_router,
)
"""In order of traffic: a request is matched against the routes one by one, so the routes most
requests reach come first (no two routers' paths overlap: ids are ``:uuid``, so
``/records/export`` is never a record's id). The documentation keeps its reading order
(``OPENAPI_TAGS``)."""

OPENAPI_TAGS = [
    {"name": "operations", "description": "Health, readiness and metrics."},
    {"name": "auth", "description": "Register, log in, refresh and log out."},
    {"name": "users", "description": "The caller's own profile."},
    {"name": "orgs", "description": "Organizations and their members' roles."},
    {"name": "records", "description": "Income and expense records, their import and export."},
    {"name": "bank statements", "description": "Import profiles and categorisation rules."},
    {"name": "accounts and transfers", "description": "Accounts, balances, reconciliation."},
    {"name": "accounts", "description": "Bank statements imported into an account."},
    {"name": "dashboard", "description": "Totals, categories, trends, recent activity, insights."},
    {"name": "audit", "description": "Who changed what, when."},
]


def include_api(app: FastAPI) -> None:
    """Every domain's routes under ``/api/v1``, each router included in the app itself.

    Not through one ``/api/v1`` router holding them all: FastAPI matches a request against
    each level of included routers again as it descends, so that level cost each API request
    one more pass over the routes (about 0.05 ms of a record's get, 2%).
    """
    for domain_router in DOMAIN_ROUTERS:
        app.include_router(domain_router, prefix=API_PREFIX, responses=error_responses(503))


async def access_tokens(settings: Settings, database: Database) -> AccessTokens:
    lifetime = dt.timedelta(minutes=settings.access_token_minutes)
    if settings.jwt_private_key_file and settings.jwt_public_key_file:
        return AccessTokens(
            settings.jwt_private_key_file.read_bytes(),
            verifying_key=settings.jwt_public_key_file.read_bytes(),
            algorithm=settings.jwt_algorithm,
            lifetime=lifetime,
        )
    if settings.secret_key is not None:
        return AccessTokens(settings.secret_key.get_secret_value(), lifetime=lifetime)
    return AccessTokens(await get_or_create_secret(database), lifetime=lifetime)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    database = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        echo=settings.db_echo,
        timeouts=Timeouts(
            connect=settings.db_connect_timeout, statement=settings.db_statement_timeout
        ),
    )
    metrics = Metrics()
    metrics.observe_pool(database.engine)
    if database.read_engine is not database.engine:
        metrics.observe_pool(database.read_engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.should_auto_migrate:
            await asyncio.to_thread(migrations.upgrade, settings.database_url)
        await migrations.ensure_current(database)
        app.state.access_tokens = await access_tokens(settings, database)
        await app.state.import_jobs.fail_interrupted()
        freeze_startup_objects()
        try:
            yield
        finally:
            await app.state.import_jobs.close()
            await app.state.rate_limiter.close()
            await database.dispose()
            metrics.forget_this_process()

    app = FastAPI(
        title="Ledgerline",
        version=__version__,
        description="Finance records for organizations: exact money, roles, fast dashboards.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = metrics
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.import_jobs = JobRunner(database, settings)
    app.state.password_hasher = PasswordHasher(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )
    install_error_handlers(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.add_middleware(ProtectiveHeaders)
    app.include_router(health_router)
    include_api(app)
    install_web_app(app)
    check_unique_operation_ids(iter_route_contexts(app.routes))
    return app
