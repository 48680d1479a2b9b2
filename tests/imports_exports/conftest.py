"""One started app per module and backend for the import/export tests.

Each test still gets a fresh ``world`` (a new org with new users), and every assertion is
about that org, so the tests stay independent without rebuilding the app and emptying the
database for each one. The database is emptied when the module is done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from tests.conftest import _empty_database, make_settings


@pytest.fixture(scope="module")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url))
    async with LifespanManager(application):
        yield application
    await _empty_database(database_url)
