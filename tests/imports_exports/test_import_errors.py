"""CSV imports that are refused: every malformed file, every wrong value, every malformed
request. Each answers a 4xx problem (never a 500) and writes nothing: no record, no category,
no aggregate, no audit entry.

Nothing is ever written here, so the module shares one org across its tests, which also
proves that a refused import leaves no trace for the next one.
"""

from __future__ import annotations

import gzip
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.imports_exports import service as imports_exports_service
from tests.factories import World, make_world, problem
from tests.imports_exports.helpers import (
    HEADER,
    csv_bytes,
    import_url,
    upload,
)
from tests.records.helpers import audit_log, record_total

GOOD_ROW = "2025-01-02,expense,Food,1.00,lunch,USD,"
MB = 1024 * 1024


@pytest.fixture(scope="module")
async def world(app: FastAPI) -> World:
    return await make_world(app)


async def assert_nothing_written(client: httpx.AsyncClient, world: World) -> None:
    assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0
    categories = await client.get(f"/orgs/{world.org_id}/categories", headers=world.admin.headers)
    assert categories.json() == []
    summary = await client.get(
        f"/orgs/{world.org_id}/dashboard/summary", headers=world.admin.headers
    )
    assert summary.json()["record_count"] == 0
    assert summary.json()["by_currency"] == []
    entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
    assert not [e for e in entries if str(e["action"]).startswith("record")]


def rejected(response: httpx.Response) -> dict[str, Any]:
    """The 422 report of a refused import."""
    body = problem(response, 422)
    assert body["created"] == 0
    assert isinstance(body["duplicates"], int)
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) == {"row", "field", "message"}
        assert error["message"]
    return body


def places(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(error["row"], error["field"]) for error in body["errors"]]


def header_then(*lines: bytes) -> bytes:
    return b"date,type,category,amount,notes,currency,external_id\n" + b"".join(lines)


MALFORMED_FILES: dict[str, tuple[bytes, tuple[int, str], str]] = {
    "empty file": (b"", (1, "file"), "header row is required"),
    "only a byte order mark": (b"\xef\xbb\xbf", (1, "file"), "header row is required"),
    "only blank lines": (b"\r\n\r\n  \r\n", (1, "file"), "header row is required"),
    "no header row": (b"2025-01-02,expense,Food,1.00\n", (1, "2025-01-02"), "unknown column"),
    "required column missing": (
        b"date,type,category,notes\n2025-01-02,expense,Food,x\n",
        (1, "amount"),
        "required column missing: amount",
    ),
    "unknown column": (
        b"date,type,category,amount,memo\n2025-01-02,expense,Food,1,x\n",
        (1, "memo"),
        "unknown column",
    ),
    "nameless column": (
        b"date,type,category,amount,\n2025-01-02,expense,Food,1,\n",
        (1, "column 5"),
        "unknown column",
    ),
    "column named twice": (b"date,type,category,amount,AMOUNT\n", (1, "amount"), "twice"),
    "binary file": (
        b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(4_000),
        (1, "file"),
        "not UTF-8",
    ),
    "gzip-compressed CSV": (gzip.compress(csv_bytes(HEADER, GOOD_ROW)), (1, "file"), "not UTF-8"),
    "UTF-16 text": (f"{HEADER}\n{GOOD_ROW}\n".encode("utf-16"), (1, "file"), "not UTF-8"),
    "Latin-1 text in row 3": (
        header_then(f"{GOOD_ROW}\n".encode(), b"2025-01-02,expense,Caf\xe9,1,,,\n"),
        (3, "file"),
        "not UTF-8",
    ),
    "NUL byte in the header": (b"date,type,\x00category,amount\n", (1, "file"), "not a text"),
    "10 MB single line": (
        b"date,type," + b"category" * (10 * MB // 8),
        (1, "file"),
        "header row is longer than",
    ),
    "10 MB single data line": (
        header_then(b"2025-01-02,expense,Food,1," + b"x" * 10 * MB),
        (2, "file"),
        "line longer than",
    ),
    "one line with a million cells": (
        header_then(b"1," * 1_000_000 + b"\n"),
        (2, "file"),
        "line longer than",
    ),
    "commas in the header, semicolons below": (
        header_then(b"2025-01-02;expense;Food;1.00;x;USD;\n"),
        (2, "row"),
        "has 1 cells, the header has 7",
    ),
    "unterminated quote": (
        header_then(b'2025-01-02,expense,Food,1,"never closed\n'),
        (2, "file"),
        "never closed",
    ),
    "text after a closing quote": (
        header_then(b'2025-01-02,expense,Food,1,"a"b,,\n'),
        (2, "file"),
        "must be doubled",
    ),
    "quoted field longer than the csv limit": (
        header_then(b'2025-01-02,expense,Food,1,"' + b"long line\n" * 20_000 + b'",,\n'),
        (2, "file"),
        "longer than the csv limit",
    ),
    "CR-only line endings": (
        b"date,type,category,amount\r2025-01-02,expense,Food,1\r",
        (1, "file"),
        "carriage return",
    ),
    "bare carriage return in a row": (
        header_then(b"2025-01-02,expense,Fo\rod,1,,,\n"),
        (2, "file"),
        "carriage return",
    ),
}


class TestMalformedFiles:
    @pytest.mark.parametrize("case", list(MALFORMED_FILES))
    async def test_is_refused_with_a_report_and_writes_nothing(
        self, client: httpx.AsyncClient, world: World, case: str
    ) -> None:
        content, first_error, explanation = MALFORMED_FILES[case]

        response = await upload(client, world.org_id, world.admin, content)

        body = rejected(response)
        assert places(body)[0] == first_error
        assert explanation in body["errors"][0]["message"]
        assert len(body["errors"][0]["field"]) <= 50
        assert len(response.content) < 10_000
        await assert_nothing_written(client, world)


WRONG_VALUES: list[tuple[str, str, str]] = [
    ("date", "date=2025-13-01", "YYYY-MM-DD"),
    ("date", "date=02/01/2025", "YYYY-MM-DD"),
    ("date", "date=20250102", "YYYY-MM-DD"),
    ("date", "date=2025-02-30", "YYYY-MM-DD"),
    ("date", "date=", "YYYY-MM-DD"),
    ("date", "date=1899-12-31", "1900-01-01"),
    ("date", "date=2200-01-01", "2199-12-31"),
    ("type", "type=transfer", "income or expense"),
    ("type", "type=", "income or expense"),
    ("category", "category=", "1-64"),
    ("category", "category=   ", "1-64"),
    ("category", f"category={'c' * 65}", "1-64"),
    ("category", f"category={'ß' * 40}", "case-folded"),
    ("category", "category=Bell\x07", "control characters"),
    ("amount", "amount=abc", "decimal"),
    ("amount", "amount=", "decimal"),
    ("amount", "amount=-5", "greater than 0"),
    ("amount", "amount=0", "greater than 0"),
    ("amount", "amount=0.00", "greater than 0"),
    ("amount", "amount=10.001", "decimals"),
    ("amount", "amount=1e400", "at most"),
    ("amount", "amount=1000000000000", "at most"),
    ("amount", "amount=NaN", "decimal"),
    ("amount", "amount=Infinity", "decimal"),
    ("amount", "amount=1 000", "decimal"),
    ("amount", "amount=\uff11\uff12", "decimal"),
    ("amount", "amount=12.5;currency=JPY", "decimals"),
    ("amount", "amount=1.2345;currency=KWD", "decimals"),
    ("currency", "currency=XYZ", "ISO 4217"),
    ("currency", "currency=US", "ISO 4217"),
    ("currency", "currency=\u20ac", "ISO 4217"),
    ("notes", f"notes={'n' * 1001}", "1000"),
    ("notes", "notes=escape \x1b[31m", "control characters"),
    ("notes", "notes=nul \x00 inside", "control characters"),
    ("notes", "notes=bare \r return", "control characters"),
    ("external_id", f"external_id={'e' * 256}", "255"),
    ("external_id", "external_id=\x7f", "control characters"),
]
COLUMNS = ("date", "type", "category", "amount", "notes", "currency", "external_id")
VALID = {
    "date": "2025-01-02",
    "type": "expense",
    "category": "Food",
    "amount": "1.00",
    "notes": "",
    "currency": "",
    "external_id": "",
}


def row_with(change: str) -> list[str]:
    values = dict(VALID)
    for assignment in change.split(";"):
        name, _, value = assignment.partition("=")
        values[name] = value
    return [values[column] for column in COLUMNS]


def csv_of(rows: list[list[str]]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode()


class TestWrongValues:
    async def test_every_wrong_value_is_reported_on_its_row_and_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        rows = [row_with("notes=a valid row first")]
        rows += [row_with(change) for _field, change, _message in WRONG_VALUES]

        body = rejected(await upload(client, world.org_id, world.admin, csv_of(rows)))

        expected = [(row, field) for row, (field, _, _) in enumerate(WRONG_VALUES, start=3)]
        assert places(body) == expected
        for error, (_field, change, message) in zip(body["errors"], WRONG_VALUES, strict=True):
            assert message in error["message"], (change, error)
        await assert_nothing_written(client, world)

    @pytest.mark.parametrize("field", COLUMNS)
    async def test_one_wrong_field_among_valid_rows_writes_nothing(
        self, client: httpx.AsyncClient, world: World, field: str
    ) -> None:
        change = next(change for name, change, _ in WRONG_VALUES if name == field)
        rows = [row_with(f"external_id=ok-{n}") for n in range(3)]
        rows.insert(1, row_with(change))

        body = rejected(await upload(client, world.org_id, world.admin, csv_of(rows)))

        assert places(body) == [(3, field)]
        await assert_nothing_written(client, world)

    async def test_every_problem_of_a_row_is_reported(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes("date,type,category,amount", "yesterday,transfer,,free")

        body = rejected(await upload(client, world.org_id, world.admin, content))

        assert places(body) == [(2, "date"), (2, "type"), (2, "category"), (2, "amount")]

    async def test_too_many_and_too_few_cells(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount",
            "2025-01-02,expense,Food,1,extra",
            "2025-01-02,expense,Food",
            "2025-01-02,expense,Food,1",
        )

        body = rejected(await upload(client, world.org_id, world.admin, content))

        assert places(body) == [(2, "row"), (3, "row")]
        assert body["errors"][0]["message"] == "has 5 cells, the header has 4"
        await assert_nothing_written(client, world)


class TestRowNumbers:
    async def test_rows_are_numbered_as_a_spreadsheet_shows_them(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount,notes",
            '2025-01-02,expense,Food,1,"three\nline\nnote"',
            "2025-01-02,expense,Food,oops,",
            "",
            '2025-01-02,expense,Food,2,"a ""quoted"" word, and a comma"',
            "2025-01-02,expense,,3,",
            newline="\r\n",
            bom=True,
        )

        body = rejected(await upload(client, world.org_id, world.admin, content))

        assert places(body) == [(3, "amount"), (6, "category")]

    async def test_a_broken_quote_names_the_row_it_starts_in(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes(
            "date,type,category,amount,notes",
            '2025-01-02,expense,Food,1,"two\nlines"',
            '2025-01-02,expense,Food,1,"oops"!',
        )

        body = rejected(await upload(client, world.org_id, world.admin, content))

        assert places(body) == [(3, "file")]

    async def test_an_error_after_the_first_batch_still_writes_nothing(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 100)
        rows = [f"2025-01-02,expense,Cat {n % 9},{n}.00" for n in range(1, 501)]
        rows.append("2025-01-02,expense,Food,-1")

        body = rejected(
            await upload(
                client, world.org_id, world.admin, csv_bytes("date,type,category,amount", *rows)
            )
        )

        assert places(body) == [(502, "amount")]
        await assert_nothing_written(client, world)

    async def test_the_report_is_capped_and_says_how_many_more(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        rows = ["2025-01-02,expense,Food,x"] * 1_500

        body = rejected(
            await upload(
                client, world.org_id, world.admin, csv_bytes("date,type,category,amount", *rows)
            )
        )

        assert len(body["errors"]) == 1_001
        assert body["errors"][-1]["field"] == "file"
        assert body["errors"][-1]["message"] == "500 more errors not shown"
        assert body["detail"].startswith("1500 problem(s)")

    async def test_a_dry_run_with_errors_is_refused_the_same_way(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = csv_bytes("date,type,category,amount", "2025-01-02,expense,Food,x")

        body = rejected(await upload(client, world.org_id, world.admin, content, dry_run=True))

        assert body["dry_run"] is True
        assert places(body) == [(2, "amount")]


class TestMalformedRequests:
    async def test_a_missing_file_field_is_a_validation_error(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            files={"upload": ("a.csv", csv_bytes(HEADER, GOOD_ROW), "text/csv")},
            headers=world.admin.headers,
        )

        body = problem(response, 422)
        assert [e["field"] for e in body["errors"]] == ["file"]
        await assert_nothing_written(client, world)

    async def test_an_empty_body_is_a_validation_error(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(import_url(world.org_id), headers=world.admin.headers)

        problem(response, 422)

    async def test_a_json_body_is_refused(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.post(
            import_url(world.org_id),
            json={"file": f"{HEADER}\n{GOOD_ROW}\n"},
            headers=world.admin.headers,
        )

        body = problem(response, response.status_code)
        assert 400 <= response.status_code < 500
        assert body["status"] == response.status_code
        await assert_nothing_written(client, world)

    async def test_a_text_field_instead_of_a_file_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            data={"file": f"{HEADER}\n{GOOD_ROW}\n"},
            files={"attachment": ("notes.txt", b"unrelated", "text/plain")},
            headers=world.admin.headers,
        )

        problem(response, 422)
        await assert_nothing_written(client, world)

    async def test_a_malformed_multipart_body_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nunterminated',
            headers={**world.admin.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
        )

        assert 400 <= response.status_code < 500
        problem(response, response.status_code)
        await assert_nothing_written(client, world)

    async def test_an_invalid_dry_run_value_is_a_validation_error(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            params={"dry_run": "perhaps"},
            files={"file": ("a.csv", csv_bytes(HEADER, GOOD_ROW), "text/csv")},
            headers=world.admin.headers,
        )

        body = problem(response, 422)
        assert [e["field"] for e in body["errors"]] == ["query.dry_run"]
        await assert_nothing_written(client, world)
