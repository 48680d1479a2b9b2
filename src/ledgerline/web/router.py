"""The web app's routes and static files, mounted at ``/`` beside the API at ``/api/v1``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from ledgerline.web.errors import install_web_error_pages
from ledgerline.web.pages import (
    accounts,
    audit,
    auth,
    dashboard,
    imports,
    orgs,
    profile,
    records,
    statements,
)
from ledgerline.web.templating import STATIC_DIR

PAGES = (auth, orgs, dashboard, records, accounts, imports, statements, audit, profile)


def install_web_app(app: FastAPI) -> None:
    """Each area's page routes included in the app itself (see ``app.include_api``)."""
    for pages in PAGES:
        app.include_router(pages.router, include_in_schema=False)
    static = GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024)
    app.mount("/static", static, name="static")
    install_web_error_pages(app)
