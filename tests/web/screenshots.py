"""``make screenshots``: the dashboard, records and accounts pages at 1280 and 390 px, from
the demo data.

Runs a real server on a fresh SQLite file with the demo org, signs in as the demo admin in
Chromium and writes PNGs to the folder given (docs/screenshots/).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core import migrations
from ledgerline.core.db import Database
from ledgerline.imports_exports import demo
from ledgerline.orgs.permissions import Role
from tests.web.conftest import CHROMIUM_ARGS, chromium_path
from tests.web.server import running_server

VIEWPORTS = [(1280, 900), (390, 844)]
PAGES = {"dashboard": "dashboard", "records": "records", "accounts": "accounts"}


async def _load_demo(database_url: str) -> tuple[str, str, str]:
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            result = await demo.load_demo(
                session,
                PasswordHasher(time_cost=1, memory_kib=1024),
                today=dt.date.today(),
                reset_passwords=True,
            )
            await session.commit()
    finally:
        await database.dispose()
    admin = next(account for account in result.accounts if account.role is Role.ADMIN)
    assert admin.password is not None
    return str(result.org_id), admin.email, admin.password


async def take(folder: Path, executable: str) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/screenshots.db"
        await asyncio.to_thread(migrations.upgrade, url)
        org_id, email, password = await _load_demo(url)
        with running_server(url, Path(tmp) / "server.log") as base_url:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_ARGS
                )
                for width, height in VIEWPORTS:
                    context = await browser.new_context(
                        viewport={"width": width, "height": height},
                        locale="en-US",
                        device_scale_factor=1,
                    )
                    page = await context.new_page()
                    await page.goto(f"{base_url}/login")
                    await page.get_by_label("Email").fill(email)
                    await page.get_by_label("Password").fill(password)
                    await page.get_by_role("button", name="Sign in").click()
                    await page.wait_for_url("**/dashboard")
                    for name, path in PAGES.items():
                        await page.goto(f"{base_url}/orgs/{org_id}/{path}")
                        await page.wait_for_load_state("networkidle")
                        target = folder / f"{name}-{width}.png"
                        await page.screenshot(path=str(target), full_page=True)
                        written.append(target)
                    await context.close()
                await browser.close()
    return written


def main() -> None:
    executable = chromium_path()
    if executable is None:
        sys.exit("no Chromium found: install Debian's chromium package")
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(take(folder, executable)):
        print(path)


if __name__ == "__main__":
    main()
