"""The statements endpoint: a bank's file, in any format the server reads, into an account;
duplicates, categories, the closing balance, and what it refuses."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.money import format_amount
from ledgerline.imports_exports.statements import CsvMapping, ReadOptions, read_statements
from tests.factories import World, problem
from tests.imports_exports.statement_helpers import (
    DUTCH,
    GERMAN,
    UK,
    US,
    Json,
    account,
    account_records,
    add_profile,
    add_rule,
    post_statement,
    statement_imported,
)
from tests.imports_exports.statements.helpers import example
from tests.records.helpers import audit_log, create_record, record_total

EXAMPLES: list[tuple[str, str, Json | None, str]] = [
    ("ofx-1.02-sgml.ofx", "USD", None, "ofx"),
    ("ofx-2.xml.ofx", "EUR", None, "ofx"),
    ("quicken.qfx", "USD", None, "ofx"),
    ("quicken.qif", "USD", None, "qif"),
    ("camt053.xml", "EUR", None, "camt"),
    ("mt940.sta", "EUR", None, "mt940"),
    ("bank-us.csv", "USD", US, "csv"),
    ("bank-debit-credit.csv", "GBP", UK, "csv"),
    ("bank-de-cp1252.csv", "EUR", GERMAN, "csv"),
    ("bank-nl.tsv", "EUR", DUTCH, "csv"),
]


def expected_rows(name: str, currency: str, mapping: Json | None) -> list[tuple[Any, ...]]:
    """(date, amount, type, notes) of each row the reader finds, as records show them."""
    read = read_statements(
        example(name),
        ReadOptions(
            default_currency=currency,
            mapping=CsvMapping.model_validate(mapping) if mapping else None,
        ),
    )
    return sorted(
        (
            row.date.isoformat(),
            format_amount(row.amount, currency),
            row.type,
            row.description or None,
        )
        for row in read.rows
    )


def content(records: list[Json]) -> list[tuple[Any, ...]]:
    return sorted((r["date"], r["amount"], r["type"], r["notes"]) for r in records)


def signed_sum(records: list[Json]) -> Decimal:
    return sum(
        (Decimal(r["amount"]) * (1 if r["type"] == "income" else -1) for r in records),
        Decimal(0),
    )


class TestFormats:
    @pytest.mark.parametrize(("name", "currency", "mapping", "kind"), EXAMPLES)
    async def test_each_example_imports_once_and_again_creates_nothing(
        self,
        client: httpx.AsyncClient,
        world: World,
        name: str,
        currency: str,
        mapping: Json | None,
        kind: str,
    ) -> None:
        account_id = await account(client, world, currency)
        wanted = expected_rows(name, currency, mapping)

        report = await statement_imported(
            client, world, account_id, example(name), mapping=mapping, filename=name
        )

        records = await account_records(client, world, account_id)
        assert report["format"] == kind
        assert report["account_id"] == account_id
        assert (report["created"], report["duplicates"], report["dry_run"]) == (
            len(wanted),
            0,
            False,
        )
        assert content(records) == wanted
        assert {r["currency"] for r in records} == {currency}
        again = await statement_imported(client, world, account_id, example(name), mapping=mapping)
        assert (again["created"], again["duplicates"]) == (0, len(wanted))
        assert again["skipped"] == report["skipped"]
        assert len(await account_records(client, world, account_id)) == len(wanted)

    async def test_bank_ids_become_external_ids(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        await statement_imported(client, world, account_id, example("camt053.xml"))
        records = await account_records(client, world, account_id)
        assert {r["external_id"] for r in records} == {
            "2026120300001",
            "2026120300002",
            "STROM-4711",
            "2026120300003/2",
        }

    async def test_a_dry_run_reports_and_writes_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        report = await statement_imported(
            client, world, account_id, example("bank-us.csv"), mapping=US, dry_run=True
        )
        assert (report["created"], report["skipped"], report["dry_run"]) == (3, 2, True)
        assert await account_records(client, world, account_id) == []

    async def test_the_import_is_audited(self, client: httpx.AsyncClient, world: World) -> None:
        account_id = await account(client, world, "USD")
        await statement_imported(
            client, world, account_id, example("ofx-1.02-sgml.ofx"), filename="dec.ofx"
        )
        entries = [
            e
            for e in await audit_log(client, org_id=world.org_id, admin=world.admin)
            if e["action"] == "records.imported"
        ]
        assert len(entries) == 1
        changes = entries[0]["changes"]
        assert changes["created"] == [None, 4]
        assert changes["format"] == [None, "ofx"]
        assert changes["account_id"] == [None, account_id]
        assert changes["file"] == [None, "dec.ofx"]


US_HEADER = "Date,Description,Amount"


def us_csv(*lines: str) -> bytes:
    return ("\n".join((US_HEADER, *lines)) + "\n").encode()


class TestDuplicates:
    async def test_an_overlapping_statement_creates_only_the_new_rows(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        first = us_csv("03/12/2026,Coffee,-3.50", "03/13/2026,Lunch,-12.00")
        second = us_csv(
            "03/12/2026,Coffee,-3.50",
            "03/12/2026,Coffee,-3.50",
            "03/13/2026,Lunch,-12.00",
            "03/14/2026,Rent,-900.00",
        )

        one = await statement_imported(client, world, account_id, first, mapping=US)
        two = await statement_imported(client, world, account_id, second, mapping=US)

        assert (one["created"], two["created"], two["duplicates"]) == (2, 2, 2)
        records = await account_records(client, world, account_id)
        assert [(r["date"], r["notes"]) for r in records].count(("2026-03-12", "Coffee")) == 2
        assert len(records) == 4

    async def test_two_identical_rows_of_one_day_stay_two_records(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        report = await statement_imported(
            client, world, account_id, example("bank-us.csv"), mapping=US
        )
        coffees = [
            r
            for r in await account_records(client, world, account_id)
            if r["notes"] == "Blue Bottle Coffee"
        ]
        assert report["created"] == 3
        assert len(coffees) == 2

    async def test_the_same_rows_in_two_accounts_are_not_duplicates(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        first, second = await account(client, world, "USD"), await account(client, world, "USD")
        one = await statement_imported(client, world, first, example("bank-us.csv"), mapping=US)
        two = await statement_imported(client, world, second, example("bank-us.csv"), mapping=US)
        assert (one["created"], two["created"], two["duplicates"]) == (3, 3, 0)

    async def test_the_same_file_uploaded_four_times_at_once_creates_each_row_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        rows = [
            f"{1 + n % 12:02d}/{1 + n % 28:02d}/2026,Shop {n % 9},-{n + 1}.25" for n in range(300)
        ]
        data = us_csv(*rows)

        responses = await asyncio.gather(
            *(
                post_statement(client, world.org_id, account_id, world.analyst, data, mapping=US)
                for _ in range(4)
            )
        )

        assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
        reports = sorted(
            ((r.json()["created"], r.json()["duplicates"]) for r in responses), reverse=True
        )
        assert reports == [(300, 0)] + [(0, 300)] * 3
        assert len(await account_records(client, world, account_id)) == 300

    async def test_the_same_ofx_uploaded_four_times_at_once_creates_each_row_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        responses = await asyncio.gather(
            *(
                post_statement(
                    client, world.org_id, account_id, world.analyst, example("ofx-1.02-sgml.ofx")
                )
                for _ in range(4)
            )
        )
        assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
        reports = sorted((r.json()["created"], r.json()["duplicates"]) for r in responses)
        assert reports == [(0, 4), (0, 4), (0, 4), (4, 0)]
        assert len(await account_records(client, world, account_id)) == 4


class TestCategories:
    async def test_file_category_then_last_category_of_the_description_then_uncategorized(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        earlier = await client.post(
            f"/orgs/{world.org_id}/records",
            json={
                "amount": "4.00",
                "type": "expense",
                "category": "Coffee",
                "date": "2026-01-01",
                "notes": "Blue Bottle Coffee",
            },
            headers=world.analyst.headers,
        )
        assert earlier.status_code == 201, earlier.text

        await statement_imported(client, world, account_id, example("bank-us.csv"), mapping=US)
        by_notes = {
            r["notes"]: r["category"] for r in await account_records(client, world, account_id)
        }
        assert by_notes["Blue Bottle Coffee"] == "Coffee"
        assert by_notes["ACME Corp, payroll"] == "Uncategorized"

        qif_account = await account(client, world, "USD")
        await statement_imported(client, world, qif_account, example("quicken.qif"))
        qif = read_statements(example("quicken.qif"), ReadOptions(default_currency="USD"))
        records = await account_records(client, world, qif_account)
        assert sorted((r["notes"], r["category"]) for r in records) == sorted(
            (row.description, row.category or "Uncategorized") for row in qif.rows
        )

    async def test_the_mapping_category_column_is_used(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        data = b"Date,Amount,Merchant,Category\n2026-03-01,-12.50,Bookshop,Books\n"
        mapping = {
            "date_column": "Date",
            "date_format": "YYYY-MM-DD",
            "amount_column": "Amount",
            "description_columns": ["Merchant"],
            "category_column": "Category",
        }
        await statement_imported(client, world, account_id, data, mapping=mapping)
        (record,) = await account_records(client, world, account_id)
        assert (record["category"], record["type"], record["amount"]) == (
            "Books",
            "expense",
            "12.50",
        )

    async def test_rules_in_order_come_before_the_last_category(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        for notes, category in (("ACME Corp", "Refunds"), ("Something else", "Misc")):
            await create_record(
                client,
                org_id=world.org_id,
                actor=world.analyst,
                notes=notes,
                category=category,
                date="2026-01-02",
            )
        await add_rule(client, world, "contains", "coffee", "Coffee")
        await add_rule(client, world, "starts_with", "blue", "Blue things")
        await add_rule(client, world, "equals", "acme corp", "Salary")
        data = us_csv(
            "03/12/2026,Blue Bottle Coffee,-3.50",
            "03/12/2026,Blue Jeans,-40.00",
            "03/13/2026,ACME Corp,2500.00",
            "03/13/2026,Something else,-1.00",
        )

        await statement_imported(client, world, account_id, data, mapping=US)

        by_notes = {
            (r["notes"], r["date"]): r["category"]
            for r in await account_records(client, world, account_id)
        }
        assert by_notes[("Blue Bottle Coffee", "2026-03-12")] == "Coffee"
        assert by_notes[("Blue Jeans", "2026-03-12")] == "Blue things"
        assert by_notes[("ACME Corp", "2026-03-13")] == "Salary"
        assert by_notes[("Something else", "2026-03-13")] == "Misc"

    async def test_a_file_category_wins_over_the_rules(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        await add_rule(client, world, "contains", "e", "Ruled")
        account_id = await account(client, world, "USD")
        await statement_imported(client, world, account_id, example("quicken.qif"))
        qif = read_statements(example("quicken.qif"), ReadOptions(default_currency="USD"))
        records = await account_records(client, world, account_id)
        assert sorted((r["notes"], r["category"]) for r in records) == sorted(
            (row.description, row.category or "Ruled") for row in qif.rows
        )


class TestProfiles:
    async def test_a_saved_profile_reads_the_csv(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        profile_id = await add_profile(client, world.org_id, world.analyst, "Sparkasse", GERMAN)
        report = await statement_imported(
            client, world, account_id, example("bank-de-cp1252.csv"), profile_id=profile_id
        )
        assert report["created"] == 3

    async def test_a_profile_of_another_org_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        theirs = await add_profile(client, world.outsider_org_id, world.outsider, "Theirs", GERMAN)
        response = await post_statement(
            client,
            world.org_id,
            account_id,
            world.analyst,
            example("bank-de-cp1252.csv"),
            profile_id=theirs,
        )
        assert problem(response, 422)["errors"][0]["field"] == "profile_id"

    async def test_profile_and_mapping_together_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        profile_id = await add_profile(client, world.org_id, world.analyst, "Both", GERMAN)
        response = await post_statement(
            client,
            world.org_id,
            account_id,
            world.analyst,
            example("bank-de-cp1252.csv"),
            mapping=GERMAN,
            profile_id=profile_id,
        )
        assert problem(response, 422)["errors"][0]["field"] == "profile_id"


class TestClosingBalance:
    async def test_difference_with_the_computed_balance_at_the_closing_date(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        dry = await statement_imported(
            client, world, account_id, example("ofx-1.02-sgml.ofx"), dry_run=True
        )
        report = await statement_imported(client, world, account_id, example("ofx-1.02-sgml.ofx"))

        records = await account_records(client, world, account_id)
        closing = Decimal("4261.44")
        assert (report["closing_balance"], report["closing_balance_date"]) == (
            "4261.44",
            "2026-12-03",
        )
        assert Decimal(report["balance_difference"]) == closing - signed_sum(records)
        assert dry["balance_difference"] == report["balance_difference"]
        again = await statement_imported(client, world, account_id, example("ofx-1.02-sgml.ofx"))
        assert again["balance_difference"] == report["balance_difference"]

    async def test_the_latest_statement_of_several_gives_the_balance(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        report = await statement_imported(client, world, account_id, example("mt940.sta"))
        assert (report["closing_balance"], report["closing_balance_date"]) == (
            "3607.56",
            "2026-12-02",
        )

    async def test_no_balance_when_the_file_states_none(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        report = await statement_imported(
            client, world, account_id, example("bank-us.csv"), mapping=US
        )
        assert report["closing_balance"] is None
        assert report["balance_difference"] is None


def two_account_mt940() -> bytes:
    text = example("mt940.sta").decode()
    other = text.replace(":25:37040044/0532013000", ":25:50010517/0648489890")
    other = other.replace(":20:", ":20:X", 1)
    return (
        (text.rstrip("\r\n-") + "\r\n-\r\n" + other).encode()
        if text.rstrip().endswith("-")
        else (text + other).encode()
    )


class TestRefusals:
    async def test_another_currency_than_the_account_is_refused_whole(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, example("ofx-2.xml.ofx")
        )
        body = problem(response, 422)
        assert body["errors"][0]["field"] == "currency"
        assert "EUR" in body["errors"][0]["message"]
        assert await account_records(client, world, account_id) == []

    async def test_several_bank_accounts_need_source_account(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "EUR")
        data = two_account_mt940()
        response = await post_statement(client, world.org_id, account_id, world.analyst, data)
        body = problem(response, 422)
        assert body["errors"][0]["field"] == "source_account"
        assert "37040044/0532013000" in body["errors"][0]["message"]
        assert "50010517/0648489890" in body["errors"][0]["message"]
        assert await account_records(client, world, account_id) == []

        chosen = await statement_imported(
            client, world, account_id, data, source_account="50010517/0648489890"
        )
        assert chosen["created"] == 4

    async def test_a_csv_without_mapping_is_refused_naming_mapping(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, example("bank-us.csv")
        )
        assert problem(response, 422)["errors"][0]["field"] == "mapping"

    @pytest.mark.parametrize(
        ("mapping", "field"),
        [
            ('{"date_column": "Date", "amount_column": "Amount"}', "mapping.date_format"),
            (
                '{"date_column": "Date", "date_format": "YYYY", "amount_column": "A"}',
                "mapping.date_format",
            ),
            (
                '{"date_column": "D", "date_format": "YYYY-MM-DD", "amount_column": "A", "x": 1}',
                "mapping.x",
            ),
            ("{not json", "mapping"),
            ("[]", "mapping"),
        ],
    )
    async def test_an_invalid_mapping_names_its_field(
        self, client: httpx.AsyncClient, world: World, mapping: str, field: str
    ) -> None:
        account_id = await account(client, world, "USD")
        response = await client.post(
            f"/orgs/{world.org_id}/accounts/{account_id}/statements",
            files={"file": ("s.csv", example("bank-us.csv"), "text/csv")},
            data={"mapping": mapping},
            headers=world.analyst.headers,
        )
        assert field in [e["field"] for e in problem(response, 422)["errors"]]

    async def test_a_malformed_file_names_the_line(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        broken = example("ofx-1.02-sgml.ofx").replace(b"<TRNAMT>-3.50", b"<TRNAMT>three", 1)
        response = await post_statement(client, world.org_id, account_id, world.analyst, broken)
        body = problem(response, 422)
        line = broken.decode().splitlines().index("<TRNAMT>three") + 1
        assert body["errors"][0]["row"] == line
        assert await account_records(client, world, account_id) == []

    async def test_a_row_error_in_a_csv_writes_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        data = us_csv("03/12/2026,Coffee,-3.50", "13/45/2026,Lunch,-12.00")
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, data, mapping=US
        )
        assert problem(response, 422)["errors"][0]["row"] == 3
        assert await account_records(client, world, account_id) == []

    async def test_a_closed_period_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        reconciled = await client.post(
            f"/orgs/{world.org_id}/accounts/{account_id}/reconcile",
            json={"statement_date": "2026-12-31", "statement_balance": "0.00", "lock": True},
            headers=world.analyst.headers,
        )
        assert reconciled.status_code == 200, reconciled.text
        response = await post_statement(
            client, world.org_id, account_id, world.analyst, example("ofx-1.02-sgml.ofx")
        )
        problem(response, 409)
        assert await account_records(client, world, account_id) == []


class TestAccess:
    async def test_a_viewer_is_forbidden_and_an_outsider_not_told(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        account_id = await account(client, world, "USD")
        data = example("ofx-1.02-sgml.ofx")
        viewer = await post_statement(client, world.org_id, account_id, world.viewer, data)
        outsider = await post_statement(client, world.org_id, account_id, world.outsider, data)
        problem(viewer, 403)
        problem(outsider, 404)
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_an_account_of_another_org_is_not_found(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            f"/orgs/{world.outsider_org_id}/accounts",
            json={"name": "Theirs", "kind": "checking", "currency": "USD"},
            headers=world.outsider.headers,
        )
        assert response.status_code == 201, response.text
        theirs = response.json()["id"]
        answer = await post_statement(
            client, world.org_id, theirs, world.admin, example("ofx-1.02-sgml.ofx")
        )
        problem(answer, 404)


async def test_an_amount_out_of_range_deep_in_a_large_file_names_its_line(
    client: httpx.AsyncClient, world: World
) -> None:
    account_id = await account(client, world, "USD")
    rows = [f"03/{1 + n % 28:02d}/2026,Shop {n},-{n + 1}.00" for n in range(6_000)]
    rows[5_500] = "03/01/2026,Too much,-1000000000000.00"
    response = await post_statement(
        client, world.org_id, account_id, world.analyst, us_csv(*rows), mapping=US
    )
    body = problem(response, 422)
    assert body["errors"] == [
        {"row": 5_502, "field": "file", "message": body["errors"][0]["message"]}
    ]
    assert "999999999999.99" in body["errors"][0]["message"]
    assert await account_records(client, world, account_id) == []
