"""CSV import that succeeds: header mapping, CSV dialects, money per currency, dry runs,
duplicates, the audit entry and the dashboard figures. Rejections live in test_import_errors."""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.dashboard import aggregates
from ledgerline.imports_exports import service as imports_exports_service
from tests.factories import World, make_org, problem
from tests.imports_exports.helpers import (
    HEADER,
    content_multiset,
    csv_bytes,
    imported,
    upload,
)
from tests.records.helpers import audit_log, record_total, walk_records

STATEMENT = (
    HEADER,
    "2025-03-01,income,Salary,5200.00,March payroll,USD,pay-2025-03",
    "2025-03-02,expense,Rent,1850,Office rent,,rent-2025-03",
    "2025-03-05,expense,Groceries,84.17,,EUR,",
    "2025-03-09,expense,groceries,12.5,Corner shop,usd,",
)
STATEMENT_CONTENT = Counter(
    {
        ("5200.00", "USD", "income", "Salary", "2025-03-01", "March payroll"): 1,
        ("1850.00", "USD", "expense", "Rent", "2025-03-02", "Office rent"): 1,
        ("84.17", "EUR", "expense", "Groceries", "2025-03-05", None): 1,
        ("12.50", "USD", "expense", "Groceries", "2025-03-09", "Corner shop"): 1,
    }
)


async def imported_actions(client: httpx.AsyncClient, world: World) -> list[dict[str, object]]:
    return [
        e for e in await audit_log(client, org_id=world.org_id, admin=world.admin) if _is_import(e)
    ]


def _is_import(entry: dict[str, object]) -> bool:
    return entry["action"] == "records.imported"


async def drift(app: FastAPI, org_id: uuid.UUID) -> list[aggregates.Drift]:
    database: Database = app.state.database
    async with database.sessions() as session:
        return await aggregates.find_drift(session, org_id)


class TestDialects:
    async def test_comma_separated_rows_are_created_as_written(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        report = await imported(client, world.org_id, world.analyst, csv_bytes(*STATEMENT))

        assert report == {"created": 4, "duplicates": 0, "errors": [], "dry_run": False}
        records = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert content_multiset(records) == STATEMENT_CONTENT
        assert {r["created_by"] for r in records} == {str(world.analyst.user_id)}
        assert {r["version"] for r in records} == {1}

    async def test_semicolons_bom_and_crlf_read_like_commas(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        lines = [line.replace(",", ";") for line in STATEMENT]

        await imported(
            client, world.org_id, world.admin, csv_bytes(*lines, newline="\r\n", bom=True)
        )

        records = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert content_multiset(records) == STATEMENT_CONTENT

    async def test_quoted_fields_keep_separators_newlines_and_quotes(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount,notes",
            '2025-01-02,expense,"Food, drinks",10.00,"Lunch with ""Bob""; paid, by card"',
            '2025-01-03,expense,Food,11.00,"first line\nsecond line\n\nfourth"',
            '"2025-01-04","expense","Travel","12.00","semicolon; inside"',
            newline="\r\n",
        )

        await imported(client, world.org_id, world.admin, content)

        notes = {
            r["amount"]: r["notes"]
            for r in await walk_records(client, org_id=world.org_id, actor=world.admin)
        }
        assert notes == {
            "10.00": 'Lunch with "Bob"; paid, by card',
            "11.00": "first line\nsecond line\n\nfourth",
            "12.00": "semicolon; inside",
        }

    async def test_crlf_inside_a_quoted_field_becomes_a_newline(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = b'date,type,category,amount,notes\r\n2025-01-03,expense,Food,1,"a\r\nb"\r\n'

        await imported(client, world.org_id, world.admin, content)

        [record] = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert record["notes"] == "a\nb"

    async def test_semicolon_file_keeps_commas_inside_cells(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes("date;type;category;amount;notes", "2025-01-02;expense;Food;3;a, b, c")

        await imported(client, world.org_id, world.admin, content)

        [record] = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert record["notes"] == "a, b, c"

    async def test_headers_are_case_insensitive_and_in_any_order(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            " Amount ,CATEGORY,Notes,Date,TYPE,Currency,External_ID",
            "7.25,Books,Paperback,2025-02-14,Expense,usd,b-1",
        )

        await imported(client, world.org_id, world.admin, content)

        [record] = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert (record["amount"], record["category"], record["date"], record["type"]) == (
            "7.25",
            "Books",
            "2025-02-14",
            "expense",
        )
        assert (record["notes"], record["currency"]) == ("Paperback", "USD")

    async def test_blank_lines_are_skipped(self, client: httpx.AsyncClient, world: World) -> None:
        content = csv_bytes(
            "date,type,category,amount", "", "2025-01-02,expense,Food,1", "", "", newline="\r\n"
        )

        report = await imported(client, world.org_id, world.admin, content)

        assert report["created"] == 1

    async def test_columns_of_our_own_export_are_accepted_and_ignored(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "id,date,type,category,amount,currency,notes,created_at,updated_at",
            f"{uuid.uuid4()},2025-01-02,expense,Food,4.00,USD,x,"
            "2020-01-01T00:00:00+00:00,2020-01-01T00:00:00+00:00",
        )

        await imported(client, world.org_id, world.admin, content)

        [record] = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert record["created_at"] > "2021"
        assert record["version"] == 1

    async def test_header_only_creates_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        report = await imported(client, world.org_id, world.admin, csv_bytes(HEADER))

        assert report == {"created": 0, "duplicates": 0, "errors": [], "dry_run": False}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0
        assert await imported_actions(client, world) == []

    async def test_notes_keep_their_spaces_and_empty_notes_are_null(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount,notes",
            "2025-01-02,expense,  Food  ,1,  padded  ",
            "2025-01-03,expense,Food,2,",
        )

        await imported(client, world.org_id, world.admin, content)

        notes = {
            r["amount"]: r["notes"]
            for r in await walk_records(client, org_id=world.org_id, actor=world.admin)
        }
        assert notes == {"1.00": "  padded  ", "2.00": None}


class TestMoneyAndCurrency:
    async def test_currency_defaults_to_the_orgs_currency(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        org_id = await make_org(app, owner=world.admin, name="Euro org", currency="EUR")
        content = csv_bytes("date,type,category,amount", "2025-01-02,expense,Food,3.10")

        await imported(client, org_id, world.admin, content)

        [record] = await walk_records(client, org_id=org_id, actor=world.admin)
        assert (record["amount"], record["currency"]) == ("3.10", "EUR")

    async def test_each_currency_takes_its_own_decimals(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount,currency",
            "2025-01-02,expense,Food,1200,JPY",
            "2025-01-02,expense,Food,1.234,KWD",
            "2025-01-02,expense,Food,0.01,USD",
            "2025-01-02,expense,Food,999999999999.99,USD",
        )

        await imported(client, world.org_id, world.admin, content)

        records = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert {(r["amount"], r["currency"]) for r in records} == {
            ("1200", "JPY"),
            ("1.234", "KWD"),
            ("0.01", "USD"),
            ("999999999999.99", "USD"),
        }

    async def test_categories_compare_case_insensitively_keeping_the_first_spelling(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount",
            "2025-01-02,expense,Café,1",
            "2025-01-03,expense,CAFÉ,2",
            "2025-01-04,expense, café ,3",
        )

        await imported(client, world.org_id, world.admin, content)

        response = await client.get(f"/orgs/{world.org_id}/categories", headers=world.admin.headers)
        assert response.json() == [{"name": "Café", "record_count": 3}]

    async def test_an_existing_category_keeps_its_spelling(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await client.post(
            f"/orgs/{world.org_id}/records",
            json={"amount": "1", "type": "expense", "category": "Travel", "date": "2025-01-01"},
            headers=world.admin.headers,
        )
        assert created.status_code == 201, created.text

        await imported(
            client,
            world.org_id,
            world.admin,
            csv_bytes("date,type,category,amount", "2025-01-02,expense,TRAVEL,5"),
        )

        response = await client.get(f"/orgs/{world.org_id}/categories", headers=world.admin.headers)
        assert response.json() == [{"name": "Travel", "record_count": 2}]


class TestDryRun:
    async def test_dry_run_counts_but_writes_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        await imported(client, world.org_id, world.admin, csv_bytes(STATEMENT[0], STATEMENT[1]))
        summary_before = (
            await client.get(f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers)
        ).json()
        audit_before = await audit_log(client, org_id=world.org_id, admin=world.admin)

        response = await upload(
            client, world.org_id, world.admin, csv_bytes(*STATEMENT), dry_run=True
        )

        assert response.status_code == 200, response.text
        assert response.json() == {"created": 3, "duplicates": 1, "errors": [], "dry_run": True}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 1
        summary_after = await client.get(
            f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers
        )
        assert summary_after.json() == summary_before
        assert await audit_log(client, org_id=world.org_id, admin=world.admin) == audit_before
        categories = await client.get(
            f"/orgs/{world.org_id}/categories", headers=world.admin.headers
        )
        assert [c["name"] for c in categories.json()] == ["Salary"]
        assert await drift(app, world.org_id) == []

    async def test_dry_run_then_real_import_gives_the_same_counts(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(*STATEMENT)
        dry = await upload(client, world.org_id, world.admin, content, dry_run=True)

        real = await imported(client, world.org_id, world.admin, content)

        assert {**dry.json(), "dry_run": False} == real

    async def test_dry_run_false_is_a_real_import(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await upload(
            client, world.org_id, world.admin, csv_bytes(*STATEMENT), dry_run=False
        )

        assert response.json()["dry_run"] is False
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 4


class TestDuplicates:
    async def test_uploading_the_same_file_again_creates_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(*STATEMENT)
        await imported(client, world.org_id, world.admin, content)

        again = await imported(client, world.org_id, world.admin, content)

        assert again == {"created": 0, "duplicates": 4, "errors": [], "dry_run": False}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 4
        assert len(await imported_actions(client, world)) == 1
        assert await drift(app, world.org_id) == []

    async def test_a_repeated_external_id_within_one_file_is_a_duplicate(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            HEADER,
            "2025-01-02,expense,Food,1,first,,tx-1",
            "2025-01-02,expense,Food,1,first,,tx-1",
            "2025-01-05,expense,Rent,9,other content,,tx-1",
        )

        report = await imported(client, world.org_id, world.admin, content)

        assert (report["created"], report["duplicates"]) == (1, 2)
        [record] = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert record["notes"] == "first"

    async def test_a_known_external_id_is_a_duplicate_whatever_the_content(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await imported(
            client, world.org_id, world.admin, csv_bytes(HEADER, "2025-01-02,expense,Food,1,,,tx-1")
        )

        report = await imported(
            client,
            world.org_id,
            world.admin,
            csv_bytes(
                HEADER, "2025-02-02,income,Pay,100,,,tx-1", "2025-02-02,income,Pay,100,,,tx-2"
            ),
        )

        assert (report["created"], report["duplicates"]) == (1, 1)

    async def test_same_content_from_an_earlier_import_is_a_duplicate(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await imported(
            client,
            world.org_id,
            world.admin,
            csv_bytes("date,type,category,amount,notes", "2025-01-02,expense,Food,1.5,Bakery"),
        )

        report = await imported(
            client,
            world.org_id,
            world.admin,
            csv_bytes(
                "category;amount;date;type;notes;currency",
                " FOOD ;1.50;2025-01-02;EXPENSE;Bakery;usd",
                "Food;1.50;2025-01-02;expense;Bakery, again;USD",
            ),
        )

        assert (report["created"], report["duplicates"]) == (1, 1)

    async def test_identical_rows_within_one_file_are_all_created(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        row = "2025-01-02,expense,Coffee,3.20,Espresso"
        content = csv_bytes("date,type,category,amount,notes", row, row, row)

        report = await imported(client, world.org_id, world.admin, content)

        assert (report["created"], report["duplicates"]) == (3, 0)

    async def test_records_created_through_the_api_are_not_fingerprint_duplicates(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await client.post(
            f"/orgs/{world.org_id}/records",
            json={"amount": "1.5", "type": "expense", "category": "Food", "date": "2025-01-02"},
            headers=world.admin.headers,
        )
        assert created.status_code == 201

        report = await imported(
            client,
            world.org_id,
            world.admin,
            csv_bytes("date,type,category,amount", "2025-01-02,expense,Food,1.5"),
        )

        assert report["created"] == 1

    async def test_duplicates_are_per_org(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        other_org = await make_org(app, owner=world.admin, name="Second")
        content = csv_bytes(*STATEMENT)
        await imported(client, world.org_id, world.admin, content)

        report = await imported(client, other_org, world.admin, content)

        assert report["created"] == 4

    async def test_losing_a_race_on_an_external_id_is_a_conflict(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two imports of one statement at once: the duplicate check of the second cannot see
        the first's uncommitted rows, so the unique index decides (simulated by a check that
        sees nothing)."""
        await imported(client, world.org_id, world.admin, csv_bytes(*STATEMENT))

        async def sees_nothing(*_args: object) -> tuple[set[str], set[str]]:
            return set(), set()

        monkeypatch.setattr(imports_exports_service, "_existing", sees_nothing)
        response = await upload(client, world.org_id, world.admin, csv_bytes(*STATEMENT))

        assert "external_id" in problem(response, 409)["detail"]
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 4
        assert len(await imported_actions(client, world)) == 1

    async def test_duplicates_across_batches_are_found(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 50)
        with_ids = [f"2025-01-02,expense,Food,{n}.00,,,tx-{n % 200}" for n in range(1, 221)]
        without_ids = [f"2025-01-03,expense,Food,{n}.00,,," for n in range(1, 121)]
        await imported(client, world.org_id, world.admin, csv_bytes(HEADER, *without_ids[:60]))

        report = await imported(
            client, world.org_id, world.admin, csv_bytes(HEADER, *with_ids, *without_ids)
        )

        assert (report["created"], report["duplicates"]) == (200 + 60, 20 + 60)


class TestAuditAndDashboard:
    async def test_an_import_writes_exactly_one_audit_entry_with_the_counts(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await imported(client, world.org_id, world.admin, csv_bytes(*STATEMENT[:2]))

        await imported(
            client,
            world.org_id,
            world.analyst,
            csv_bytes(*STATEMENT),
        )

        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        imports = [e for e in entries if _is_import(e)]
        assert len(imports) == 2
        latest = imports[0]
        assert latest["actor_id"] == str(world.analyst.user_id)
        assert latest["entity_type"] == "record"
        assert latest["changes"]["created"] == [None, 3]
        assert latest["changes"]["duplicates"] == [None, 1]
        assert latest["changes"]["file"] == [None, "records.csv"]
        assert not [e for e in entries if e["action"] == "record.created"]

    async def test_dashboard_figures_include_the_imported_rows(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        await imported(client, world.org_id, world.admin, csv_bytes(*STATEMENT))

        summary = (
            await client.get(
                f"/orgs/{world.org_id}/dashboard/summary", headers=world.viewer.headers
            )
        ).json()
        categories = (
            await client.get(
                f"/orgs/{world.org_id}/dashboard/categories", headers=world.viewer.headers
            )
        ).json()

        assert (summary["total_income"], summary["total_expense"], summary["record_count"]) == (
            "5200.00",
            "1862.50",
            3,
        )
        by_currency = {c["currency"]: c for c in summary["by_currency"]}
        assert by_currency["EUR"]["total_expense"] == "84.17"
        assert [(c["category"], c["total"], c["count"], c["currency"]) for c in categories] == [
            ("Salary", "5200.00", 1, "USD"),
            ("Rent", "1850.00", 1, "USD"),
            ("Groceries", "84.17", 1, "EUR"),
            ("Groceries", "12.50", 1, "USD"),
        ]
        assert await drift(app, world.org_id) == []

    async def test_aggregates_stay_exact_across_several_batches(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 100)
        cents = [n * 100_003 % 99_999_999_999 + 1 for n in range(1, 1_001)]
        rows = [
            f"2025-{1 + n % 12:02d}-{1 + n % 28:02d},{('income', 'expense')[n % 2]},"
            f"Cat {n % 7},{amount // 100}.{amount % 100:02d}"
            for n, amount in enumerate(cents)
        ]

        await imported(
            client, world.org_id, world.admin, csv_bytes("date,type,category,amount", *rows)
        )

        assert await drift(app, world.org_id) == []
        summary = (
            await client.get(f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers)
        ).json()
        income = sum(cents[0::2])
        expense = sum(cents[1::2])
        assert summary["record_count"] == 1_000
        assert summary["total_income"] == f"{income // 100}.{income % 100:02d}"
        assert summary["total_expense"] == f"{expense // 100}.{expense % 100:02d}"


class TestPermissions:
    @pytest.mark.parametrize("role", ["admin", "analyst"])
    async def test_analysts_and_admins_may_import(
        self, client: httpx.AsyncClient, world: World, role: str
    ) -> None:
        actor = world.admin if role == "admin" else world.analyst

        response = await upload(client, world.org_id, actor, csv_bytes(*STATEMENT))

        assert response.status_code == 200

    async def test_viewer_is_forbidden(self, client: httpx.AsyncClient, world: World) -> None:
        response = await upload(client, world.org_id, world.viewer, csv_bytes(*STATEMENT))

        problem(response, 403)
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_outsider_gets_not_found(self, client: httpx.AsyncClient, world: World) -> None:
        response = await upload(client, world.org_id, world.outsider, csv_bytes(*STATEMENT))

        problem(response, 404)

    async def test_anonymous_is_unauthorized(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.post(
            f"/orgs/{world.org_id}/records/import",
            files={"file": ("a.csv", csv_bytes(*STATEMENT), "text/csv")},
        )

        problem(response, 401)
