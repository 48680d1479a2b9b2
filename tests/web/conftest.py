"""Browser tests: Playwright driving Debian's Chromium against a real server per backend.

One server per backend and one browser for the whole run; each test gets an org of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import empty_database_url
from tests.web.server import People, in_a_thread, make_people, running_server

CHROMIUM_ENV = "LEDGERLINE_TEST_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class WebServer:
    base_url: str
    database_url: str


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "browser tests skipped: no Chromium found at /usr/bin/chromium or on PATH "
            f"(install Debian's chromium package, or set {CHROMIUM_ENV})"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def web_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    tmp_dir = tmp_path_factory.mktemp(f"web-{backend}")
    databases = empty_database_url(backend, tmp_dir, "browser")
    url = in_a_thread(lambda: next(databases))
    try:
        with running_server(url, tmp_dir / "server.log") as base_url:
            yield WebServer(base_url=base_url, database_url=url)
    finally:
        in_a_thread(lambda: next(databases, None))


@pytest.fixture
async def people(web_server: WebServer) -> People:
    return await make_people(web_server.database_url)
