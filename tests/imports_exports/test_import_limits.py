"""Size and row limits of the CSV import: beyond them 413, as problem details, nothing written.

Two limits guard the file size, both from the app's ``import_max_bytes``: the route's transport
limit (``import_max_bytes`` plus room for the multipart envelope), which stops reading the body,
and the service's check of the uploaded file's size.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.imports_exports import service as imports_exports_service
from ledgerline.imports_exports.router import MULTIPART_OVERHEAD
from tests.conftest import api_client, make_settings
from tests.factories import Actor, make_org, make_user, problem
from tests.imports_exports.helpers import csv_bytes, spy_on_writes, upload
from tests.records.helpers import record_total

HEADER = "date,type,category,amount,notes"
MAX_BYTES = 2_048
MAX_ROWS = 3


@pytest.fixture(scope="module")
async def limited_app(app: FastAPI, database_url: str) -> AsyncIterator[FastAPI]:
    """An app with small limits, on the module's database (emptied by ``app`` at the end)."""
    settings = make_settings(database_url, import_max_bytes=MAX_BYTES, import_max_rows=MAX_ROWS)
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="module")
async def owner(limited_app: FastAPI) -> Actor:
    return await make_user(limited_app)


@pytest.fixture
async def limited(limited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(limited_app) as client:
        yield client


@pytest.fixture
async def org_id(limited_app: FastAPI, owner: Actor) -> uuid.UUID:
    return await make_org(limited_app, owner=owner)


def sized_csv(size: int) -> bytes:
    """A valid CSV of two rows and exactly ``size`` bytes (long notes pad it)."""
    start = f"{HEADER}\n2025-01-02,expense,Food,1.00,".encode()
    second = b"2025-01-03,expense,Food,2.00,"
    first_notes = (size - len(start) - len(second) - 2) // 2
    second_notes = size - len(start) - len(second) - 2 - first_notes
    assert 0 <= first_notes <= second_notes <= 1_000
    content = start + b"n" * first_notes + b"\n" + second + b"m" * second_notes + b"\n"
    assert len(content) == size
    return content


def rows_csv(count: int) -> bytes:
    rows = [f"2025-01-{1 + n % 28:02d},expense,Food,{n + 1}.00," for n in range(count)]
    return csv_bytes(HEADER, *rows)


class TestFileSize:
    async def test_a_file_larger_than_import_max_bytes_is_too_large(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        response = await upload(limited, org_id, owner, sized_csv(MAX_BYTES + 1))
        dry = await upload(limited, org_id, owner, sized_csv(MAX_BYTES + 1), dry_run=True)

        assert f"{MAX_BYTES} bytes" in problem(response, 413)["detail"]
        problem(dry, 413)
        assert await record_total(limited, org_id=org_id, actor=owner) == 0

    async def test_a_file_of_exactly_import_max_bytes_is_accepted(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        response = await upload(limited, org_id, owner, sized_csv(MAX_BYTES))

        assert response.status_code == 200, response.text
        assert response.json()["created"] == 2

    async def test_a_body_beyond_the_transport_limit_is_cut_off(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        content = b"x" * (MAX_BYTES + MULTIPART_OVERHEAD + 1)

        response = await upload(limited, org_id, owner, content)

        # The transport's answer, not the service's ("the file is larger than ... bytes").
        assert (
            problem(response, 413)["detail"] == "request body is larger than this endpoint accepts"
        )
        assert await record_total(limited, org_id=org_id, actor=owner) == 0


class TestRowCount:
    async def test_more_rows_than_import_max_rows_is_too_large(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        response = await upload(limited, org_id, owner, rows_csv(MAX_ROWS + 1))
        dry = await upload(limited, org_id, owner, rows_csv(MAX_ROWS + 1), dry_run=True)

        assert f"{MAX_ROWS} rows" in problem(response, 413)["detail"]
        problem(dry, 413)
        assert await record_total(limited, org_id=org_id, actor=owner) == 0

    async def test_exactly_import_max_rows_and_blank_lines_are_accepted(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        content = rows_csv(MAX_ROWS) + b"\n\n\n"

        response = await upload(limited, org_id, owner, content)

        assert response.status_code == 200, response.text
        assert response.json()["created"] == MAX_ROWS

    async def test_the_row_limit_reached_after_a_written_batch_writes_nothing(
        self,
        limited: httpx.AsyncClient,
        owner: Actor,
        org_id: uuid.UUID,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 2)

        response = await upload(limited, org_id, owner, rows_csv(MAX_ROWS + 1))

        problem(response, 413)
        assert await record_total(limited, org_id=org_id, actor=owner) == 0
        categories = await limited.get(f"/orgs/{org_id}/categories", headers=owner.headers)
        assert categories.json() == []
        audit = await limited.get(f"/orgs/{org_id}/audit", headers=owner.headers)
        assert not [e for e in audit.json()["items"] if e["action"].startswith("record")]

    async def test_the_row_limit_is_answered_before_any_row_is_written(
        self,
        limited: httpx.AsyncClient,
        owner: Actor,
        org_id: uuid.UUID,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Not written and rolled back: never written, so a file over the limit holds no
        lock and costs no writes however many rows precede the one crossing it."""
        monkeypatch.setattr(imports_exports_service, "BATCH_SIZE", 1)
        writes = spy_on_writes(monkeypatch)

        response = await upload(limited, org_id, owner, rows_csv(MAX_ROWS + 1))

        problem(response, 413)
        assert writes == []

    async def test_a_file_unreadable_before_the_limit_is_rejected_for_that(
        self, limited: httpx.AsyncClient, owner: Actor, org_id: uuid.UUID
    ) -> None:
        content = (
            rows_csv(1)
            + b"2025-01-02,expense,Caf\xe9,1.00,\n"
            + rows_csv(MAX_ROWS)[len(HEADER) + 1 :]
        )

        response = await upload(limited, org_id, owner, content)

        [error] = problem(response, 422)["errors"]
        assert (error["row"], error["field"]) == (3, "file")
