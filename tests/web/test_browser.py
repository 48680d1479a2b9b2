"""The flows of ui.md "How it is tested", in Chromium against a real server, on each backend."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, expect

from ledgerline.orgs.permissions import Role
from tests.factories import PASSWORD
from tests.imports_exports.statements.helpers import example
from tests.web.conftest import WebServer
from tests.web.server import WEB_IMPORT_JOB_BYTES, People

NAV_LINKS = {
    Role.VIEWER: ["Dashboard", "Records", "Accounts"],
    Role.ANALYST: ["Dashboard", "Records", "Accounts", "Import"],
    Role.ADMIN: ["Dashboard", "Records", "Accounts", "Import", "Trash", "Members", "Audit"],
}
SERIOUS = frozenset({"serious", "critical"})
PAGES = [
    "dashboard",
    "records",
    "records/new",
    "accounts",
    "import",
    "trash",
    "members",
    "audit",
]


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        await opened.close()


async def sign_in(
    context: BrowserContext, server: WebServer, email: str, landing: str = "**/dashboard"
) -> Page:
    page = await context.new_page()
    await page.goto(f"{server.base_url}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(landing)
    return page


def org_url(server: WebServer, people: People, path: str) -> str:
    return f"{server.base_url}/orgs/{people.org_id}/{path}"


async def add_record(page: Page, server: WebServer, people: People, **fields: str) -> None:
    await page.goto(org_url(server, people, "records/new"))
    await page.get_by_label("Amount").fill(fields["amount"])
    await page.get_by_label("Type").select_option(fields.get("type", "expense"))
    await page.get_by_label("Category").fill(fields["category"])
    await page.get_by_label("Date").fill(fields.get("date", dt.date.today().isoformat()))
    await page.get_by_label("Notes").fill(fields.get("notes", ""))
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state()
    assert page.url.endswith("/records"), await page.locator("main").inner_text()


async def serious_violations(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [v["id"] for v in results.response["violations"] if v.get("impact") in SERIOUS]


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_signs_in_and_sees_what_it_may(
    context: BrowserContext, web_server: WebServer, people: People, role: Role
) -> None:
    page = await sign_in(context, web_server, people.email(role))
    assert page.url.endswith(f"/orgs/{people.org_id}/dashboard")
    nav = page.get_by_role("navigation", name="Main")
    links = [text.strip() for text in await nav.get_by_role("link").all_inner_texts()]
    assert links == NAV_LINKS[role]
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    for heading in ("Income", "Expense", "Net"):
        await expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
    insights = page.get_by_role("heading", name="Insights (USD)")
    await expect(insights).to_have_count(0 if role is Role.VIEWER else 1)
    await page.goto(org_url(web_server, people, "records"))
    new_record = page.get_by_role("link", name="New record")
    await expect(new_record).to_have_count(0 if role is Role.VIEWER else 1)
    response = await page.goto(org_url(web_server, people, "members"))
    assert response is not None
    assert response.status == (200 if role is Role.ADMIN else 403)


async def test_an_outsider_gets_the_not_found_page(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.outsider, landing="**/orgs")
    response = await page.goto(org_url(web_server, people, "dashboard"))
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="404 · Not Found")).to_be_visible()
    await expect(page.get_by_text("Request id:")).to_be_visible()


async def test_an_analyst_creates_a_record_and_sees_it_in_the_list_and_the_totals(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await add_record(page, web_server, people, amount="123.45", category="Stationery")
    row = page.get_by_role("row").filter(has_text="Stationery")
    await expect(row).to_contain_text("\u2212$123.45")
    await expect(row).to_contain_text("Expense")
    await page.get_by_role("link", name="Dashboard").click()
    await page.get_by_label("Period", exact=True).select_option("this-month")
    await page.get_by_role("button", name="Show").click()
    expense = page.locator("article", has=page.get_by_role("heading", name="Expense", exact=True))
    await expect(expense.first).to_contain_text("$123.45")
    count = page.locator("article", has=page.get_by_role("heading", name="Records", exact=True))
    await expect(count.first).to_contain_text("1")


async def test_a_field_error_shows_beside_its_field(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await page.goto(org_url(web_server, people, "records/new"))
    await page.get_by_label("Amount").fill("-5")
    await page.get_by_label("Category").fill("Taxi")
    await page.get_by_label("Date").fill("2026-01-05")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#amount-error")).to_be_visible()


async def test_an_admin_deletes_and_restores_a_record_and_reads_the_audit_log(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.admin)
    await add_record(page, web_server, people, amount="40", category="Plants", notes="Ficus")
    await page.get_by_role("button", name="Delete Plants").click()
    await page.wait_for_url("**/records")
    await expect(page.get_by_text("Ficus")).to_have_count(0)
    await page.get_by_role("link", name="Trash").click()
    await expect(page.get_by_text("Ficus")).to_be_visible()
    await page.get_by_role("button", name="Restore Plants").click()
    await expect(page.get_by_role("heading", name="The trash is empty")).to_be_visible()
    await page.get_by_role("link", name="Records", exact=True).click()
    await expect(page.get_by_text("Ficus")).to_be_visible()
    await page.get_by_role("link", name="Audit").click()
    entries = page.locator(".audit-entries > li")
    await expect(entries.first).to_contain_text("record.restored")
    created = entries.filter(has_text="record.created")
    await expect(created.get_by_role("row").filter(has_text="notes")).to_contain_text("Ficus")


async def test_an_admin_manages_members_and_meets_the_last_admin_rule(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.admin)
    await page.get_by_role("link", name="Members").click()
    await page.get_by_label("Email").fill(people.outsider)
    await page.get_by_label("Role", exact=True).select_option("viewer")
    await page.get_by_role("button", name="Add member").click()

    def newcomer() -> Any:
        return page.get_by_role("row").filter(has_text=people.outsider)

    await expect(newcomer()).to_contain_text("Active")
    await newcomer().get_by_label("Role of Outsider Person").select_option("analyst")
    await newcomer().get_by_role("button", name="Change role").click()
    await expect(newcomer().get_by_label("Role of Outsider Person")).to_have_value("analyst")
    await newcomer().get_by_role("button", name="Deactivate").click()
    await expect(newcomer()).to_contain_text("Deactivated")
    await newcomer().get_by_role("button", name="Remove").click()
    await expect(newcomer()).to_have_count(0)
    await expect(page.get_by_text("at least one active admin").first).to_be_visible()
    admin_row = page.get_by_role("row").filter(has_text=people.admin)
    await admin_row.get_by_role("button", name="Remove").click()
    await expect(page.get_by_role("alert")).to_contain_text("at least one active admin")


async def _upload(page: Page, name: str, content: str) -> None:
    await page.get_by_label("CSV file", exact=True).set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content.encode()}
    )
    await page.get_by_role("button", name="Preview").click()


async def test_an_import_with_an_error_shows_the_row(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await page.get_by_role("link", name="Import", exact=True).click()
    await _upload(
        page,
        "bad.csv",
        "date,type,category,amount\n2026-01-02,expense,Food,12.00\n2026-01-03,expense,Food,abc\n",
    )
    errors = page.get_by_role("table").filter(has_text="Problem")
    await expect(errors.get_by_role("row").filter(has_text="amount")).to_contain_text("3")
    await expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)


async def test_a_good_import_previews_then_shows_its_result(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await page.get_by_role("link", name="Import", exact=True).click()
    marker = uuid.uuid4().hex[:8]
    await _upload(
        page,
        "good.csv",
        "date,type,category,amount,notes\n"
        f"2026-01-02,expense,Food,12.00,lunch {marker}\n"
        f"2026-01-03,income,Sales,99.50,payout {marker}\n",
    )
    await expect(page.get_by_role("status")).to_contain_text("2 records would be created")
    await expect(page.get_by_text(f"lunch {marker}")).to_be_visible()
    await page.get_by_role("button", name="Confirm import").click()
    await expect(page.get_by_role("status")).to_contain_text("2 records imported")
    await page.get_by_role("link", name="See the records").click()
    await expect(page.get_by_text(f"payout {marker}")).to_be_visible()


async def test_an_analyst_imports_a_large_file_and_sees_its_progress_and_result(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await page.get_by_role("link", name="Import", exact=True).click()
    marker = uuid.uuid4().hex[:8]
    rows = [
        f"2026-0{n % 9 + 1}-{n % 28 + 1:02d},expense,Groceries,{n % 90 + 1}.25,shop {marker} {n}"
        for n in range(3000)
    ]
    body = "date,type,category,amount,notes\n" + "\n".join(rows) + "\n"
    assert len(body) > WEB_IMPORT_JOB_BYTES
    await _upload(page, "large.csv", body)
    await page.wait_for_url("**/import/jobs/*")
    progress = page.get_by_role("progressbar", name="Import progress")
    await expect(progress).to_be_visible()
    await expect(page.get_by_role("heading", name="Import finished")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("3,000 records imported")
    await expect(progress).to_have_attribute("value", "3000")
    await expect(page.get_by_role("button", name="Cancel import")).to_have_count(0)
    await page.get_by_role("link", name="See the records").click()
    await page.get_by_label("Search notes and categories").fill(f"shop {marker} 2999")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text(f"shop {marker} 2999")).to_be_visible()


async def test_admin_creates_an_account_analyst_transfers_and_reconciles_viewer_reads(
    browser: Browser, context: BrowserContext, web_server: WebServer, people: People
) -> None:
    today = dt.date.today().isoformat()
    admin = await sign_in(context, web_server, people.admin)
    await admin.get_by_role("link", name="Accounts", exact=True).click()
    for name, kind, opening in (("Everyday", "savings", "250.00"), ("Rainy day", "savings", "0")):
        await admin.get_by_label("Name", exact=True).fill(name)
        await admin.get_by_label("Kind").select_option(kind)
        await admin.get_by_label("Opening balance").fill(opening)
        await admin.get_by_role("button", name="Create account").click()
        await admin.wait_for_load_state()
    await expect(admin.get_by_role("row").filter(has_text="Everyday")).to_contain_text("$250.00")
    assert not await serious_violations(admin)

    analyst_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        analyst = await sign_in(analyst_context, web_server, people.analyst)
        await analyst.goto(org_url(web_server, people, "accounts"))
        await expect(analyst.get_by_role("button", name="Create account")).to_have_count(0)
        await analyst.get_by_label("From").select_option(label="Everyday (USD)")
        await analyst.get_by_label("To", exact=True).select_option(label="Rainy day (USD)")
        await analyst.locator("#transfer-amount").fill("40.00")
        await analyst.locator("#transfer-date").fill(today)
        await analyst.locator("#transfer-notes").fill("put aside")
        await analyst.get_by_role("button", name="Transfer", exact=True).click()
        await analyst.wait_for_load_state()
        rainy = analyst.get_by_role("row").filter(has_text="Rainy day")
        await expect(rainy).to_contain_text("$40.00")
        await expect(analyst.get_by_role("row").filter(has_text="Everyday")).to_contain_text(
            "$210.00"
        )
        await analyst.get_by_label("Account", exact=True).select_option(label="Rainy day (USD)")
        await analyst.get_by_label("Statement date").fill(today)
        await analyst.get_by_label("Statement balance").fill("40.00")
        await analyst.get_by_label("Close the period when the balances match").check()
        await analyst.get_by_role("button", name="Reconcile", exact=True).click()
        result = analyst.get_by_role("status")
        await expect(result).to_contain_text("The balances match.")
        await expect(result).to_contain_text("The account is closed through")
        assert not await serious_violations(analyst)
    finally:
        await analyst_context.close()

    viewer_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = await sign_in(viewer_context, web_server, people.viewer)
        await viewer.get_by_role("link", name="Accounts", exact=True).click()
        await expect(viewer.get_by_role("row").filter(has_text="Rainy day")).to_contain_text(
            "$40.00"
        )
        await expect(viewer.locator("main form")).to_have_count(0)
        await expect(viewer.get_by_role("button")).to_have_count(1)  # Sign out
    finally:
        await viewer_context.close()


async def test_an_analyst_imports_a_bank_statement_into_an_account(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    admin = await sign_in(context, web_server, people.admin)
    await admin.goto(org_url(web_server, people, "accounts"))
    await admin.get_by_label("Name", exact=True).fill("Bank of Tests")
    await admin.get_by_role("button", name="Create account").click()
    await admin.wait_for_load_state()
    await admin.close()
    await context.clear_cookies()
    page = await sign_in(context, web_server, people.analyst)
    await page.get_by_role("link", name="Import", exact=True).click()
    await page.get_by_label("Account", exact=True).select_option(label="Bank of Tests (USD)")
    await page.get_by_label("Bank statement file").set_input_files(
        {
            "name": "bank.ofx",
            "mimeType": "application/x-ofx",
            "buffer": example("ofx-1.02-sgml.ofx"),
        }
    )
    await page.get_by_role("button", name="Preview statement").click()
    await expect(page.get_by_role("heading", name="Preview of bank.ofx (OFX)")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("4 records would be created")
    assert not await serious_violations(page)
    await page.get_by_role("button", name="Confirm statement import").click()
    await expect(page.get_by_role("status")).to_contain_text("4 records imported from bank.ofx")
    await expect(page.get_by_text("closing balance on")).to_contain_text("$4,261.44")
    await page.get_by_role("link", name="See the account's records").click()
    await expect(page.get_by_role("row").filter(has_text="BLUE BOTTLE COFFEE")).to_have_count(2)
    await expect(page.get_by_role("row").filter(has_text="ACME CORP PAYROLL")).to_have_count(1)


async def test_export_downloads_the_current_view(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    await add_record(page, web_server, people, amount="10", category="Books", notes="novel")
    await add_record(page, web_server, people, amount="20", category="Coffee", notes="beans")
    await page.get_by_label("Search notes and categories").fill("novel")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("beans")).to_have_count(0)
    await expect(page).to_have_url(f"{org_url(web_server, people, 'records')}?q=novel")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export this view (CSV)").click()
    download = await download_info.value
    content = (await download.path()).read_text()
    assert "novel" in content
    assert "beans" not in content


async def test_a_viewers_forged_post_and_a_post_without_token_are_refused(
    browser: Browser, context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.viewer)
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    url = org_url(web_server, people, "records/new")
    fields = {"amount": "5", "type": "expense", "category": "Forged", "date": "2026-01-02"}
    forged = await context.request.post(url, form={**fields, "csrf_token": token})
    assert forged.status == 403
    assert "Forbidden" in await forged.text()
    analyst_context = await browser.new_context()
    try:
        await sign_in(analyst_context, web_server, people.analyst)
        tokenless = await analyst_context.request.post(url, form=fields)
        assert tokenless.status == 403
    finally:
        await analyst_context.close()
    await page.goto(org_url(web_server, people, "records"))
    await expect(page.get_by_text("Forged")).to_have_count(0)


async def test_a_note_holding_a_script_shows_as_text(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.analyst)
    note = "<script>window.pwned = 1</script><b>bold</b>"
    await add_record(page, web_server, people, amount="1", category="Tests", notes=note)
    await expect(page.get_by_text(note)).to_be_visible()
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("td.notes b").count() == 0


async def test_axe_finds_no_serious_violation_on_any_page(
    browser: Browser, context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await sign_in(context, web_server, people.admin)
    await add_record(page, web_server, people, amount="12.5", category="Axe", notes="check")
    urls = [org_url(web_server, people, path) for path in PAGES]
    urls += [f"{web_server.base_url}/profile", f"{web_server.base_url}/orgs"]
    urls += [org_url(web_server, people, "no-such-page")]
    found: dict[str, list[str]] = {}
    for url in urls:
        await page.goto(url)
        if serious := await serious_violations(page):
            found[url] = serious
    await page.goto(org_url(web_server, people, "records"))
    await page.get_by_role("link", name="Edit Axe").click()
    if serious := await serious_violations(page):
        found["edit form"] = serious
    anonymous = await browser.new_context()
    try:
        login = await anonymous.new_page()
        for path in ("/login", "/register"):
            await login.goto(f"{web_server.base_url}{path}")
            if serious := await serious_violations(login):
                found[path] = serious
    finally:
        await anonymous.close()
    assert not found, found


SIDEWAYS_TABLES = """[...document.querySelectorAll('.table-wrap')]
    .filter(box => box.scrollWidth > box.clientWidth + 1)
    .map(box => (box.querySelector('caption') || box).textContent.trim().slice(0, 40)
        + ': ' + box.scrollWidth + ' px in ' + box.clientWidth)"""
"""Tables wider than their box (caption and widths): a phone would scroll them sideways."""


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_a_phone_sees_every_page_without_sideways_scrolling(
    browser: Browser, web_server: WebServer, people: People, scheme: str
) -> None:
    phone = await browser.new_context(
        viewport={"width": 390, "height": 844},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    try:
        page = await sign_in(phone, web_server, people.admin)
        await add_record(page, web_server, people, amount="8", category="Phone", notes="check")
        found: dict[str, object] = {}
        for path in ("dashboard", "records", "records/new", "accounts", "members", "audit"):
            await page.goto(org_url(web_server, people, path))
            width = await page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                found[path] = width
            if tables := await page.evaluate(SIDEWAYS_TABLES):
                found[f"{path} (tables scrolling sideways)"] = tables
            if serious := await serious_violations(page):
                found[f"{path} (axe)"] = serious
        assert not found, found
    finally:
        await phone.close()


async def _tab_to(page: Page, script: str, limit: int = 30) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(script):
            return
    raise AssertionError(f"Tab never reached: {script}")


async def test_keyboard_alone_signs_in_and_reaches_the_records(
    context: BrowserContext, web_server: WebServer, people: People
) -> None:
    page = await context.new_page()
    await page.goto(f"{web_server.base_url}/login")
    await _tab_to(page, "document.activeElement.id === 'email'")
    await page.keyboard.type(people.viewer)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/dashboard")
    await _tab_to(page, "document.activeElement.textContent.trim() === 'Records'")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/records")
    await _tab_to(page, "document.activeElement.id === 'f-q'")
    await page.keyboard.type("nothing matches this")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="No records match these filters")).to_be_visible()
