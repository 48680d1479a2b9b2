"""The import's request itself: multipart/form-data with exactly one ``file`` part. Anything
else is refused before a row is read: another media type with 415, a second file with 422."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import PASSWORD, World, error_fields, problem
from tests.imports_exports.helpers import HEADER, csv_bytes, import_url
from tests.records.helpers import record_total

ONE_ROW = csv_bytes(HEADER, "2026-03-01,expense,Food,1.00,,,")
OTHER_ROW = csv_bytes(HEADER, "2026-03-02,expense,Rent,2.00,,,")


class TestMediaType:
    @pytest.mark.parametrize(
        ("content_type", "content"),
        [
            ("application/json", b'{"file": "2026-03-01,expense,Food,1.00"}'),
            ("application/x-www-form-urlencoded", b"file=2026-03-01%2Cexpense"),
            ("text/csv", ONE_ROW),
        ],
    )
    async def test_other_media_types_are_a_415(
        self, client: httpx.AsyncClient, world: World, content_type: str, content: bytes
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            content=content,
            headers={**world.analyst.headers, "Content-Type": content_type},
        )
        body = problem(response, 415)
        assert "multipart/form-data" in body["detail"]
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_a_body_without_content_type_is_a_415(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id), content=ONE_ROW, headers=world.analyst.headers
        )
        problem(response, 415)

    async def test_the_token_form_takes_a_form_not_json(self, client: httpx.AsyncClient) -> None:
        user = await make_user_for_token(client)
        response = await client.post("/auth/token", json={"username": user, "password": PASSWORD})
        problem(response, 415)
        form = await client.post("/auth/token", data={"username": user, "password": PASSWORD})
        assert form.status_code == 200


async def make_user_for_token(client: httpx.AsyncClient) -> str:
    email = "token-form@example.com"
    response = await client.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "full_name": "Form"}
    )
    assert response.status_code == 201, response.text
    return email


class TestFileParts:
    async def test_a_second_file_part_is_a_422_and_nothing_is_written(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            import_url(world.org_id),
            files=[
                ("file", ("a.csv", ONE_ROW, "text/csv")),
                ("file", ("b.csv", OTHER_ROW, "text/csv")),
            ],
            headers=world.analyst.headers,
        )
        assert error_fields(response) == {"file"}
        assert await record_total(client, org_id=world.org_id, actor=world.admin) == 0

    async def test_one_file_part_is_imported(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.post(
            import_url(world.org_id),
            files=[("file", ("a.csv", ONE_ROW, "text/csv"))],
            headers=world.analyst.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 1
