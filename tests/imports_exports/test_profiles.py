"""Import profiles (saved CSV mappings) over HTTP, the mapping suggestion, and the service
calls the statement import makes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.core.db import Database
from ledgerline.core.errors import ValidationFailed
from ledgerline.imports_exports.profiles import service as profiles_service
from ledgerline.imports_exports.statements import CsvMapping
from tests.factories import World, error_fields, problem
from tests.records.helpers import audit_log

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
US_MAPPING: dict[str, Any] = {
    "date_column": "Date",
    "date_format": "MM/DD/YYYY",
    "amount_column": "Amount",
    "description_columns": ["Description"],
}
DE_MAPPING: dict[str, Any] = {
    "delimiter": ";",
    "encoding": "cp1252",
    "skip_rows": 3,
    "date_column": "Buchungstag",
    "date_format": "DD.MM.YYYY",
    "amount_column": "Betrag",
    "decimal_separator": ",",
    "thousands_separator": ".",
    "description_columns": ["Empfänger", "Verwendungszweck"],
}


def url(world: World, profile_id: object = None) -> str:
    base = f"/orgs/{world.org_id}/import-profiles"
    return base if profile_id is None else f"{base}/{profile_id}"


async def create(client: httpx.AsyncClient, world: World, **body: Any) -> dict[str, Any]:
    payload = {"name": "US bank", "mapping": US_MAPPING, **body}
    response = await client.post(url(world), json=payload, headers=world.analyst.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestCrud:
    async def test_create_get_list_update_delete(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world, name="US bank")
        assert created["name"] == "US bank"
        assert created["mapping"]["date_format"] == "MM/DD/YYYY"
        assert created["mapping"]["delimiter"] == ","  # defaults filled in
        got = await client.get(url(world, created["id"]), headers=world.admin.headers)
        assert got.status_code == 200
        assert got.json() == created
        await create(client, world, name="a German bank", mapping=DE_MAPPING)
        listed = await client.get(url(world), headers=world.analyst.headers)
        assert [p["name"] for p in listed.json()] == ["a German bank", "US bank"]

        patched = await client.patch(
            url(world, created["id"]),
            json={"name": "Chase", "mapping": {**US_MAPPING, "negative_is": "income"}},
            headers=world.analyst.headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "Chase"
        assert patched.json()["mapping"]["negative_is"] == "income"

        deleted = await client.delete(url(world, created["id"]), headers=world.analyst.headers)
        assert deleted.status_code == 204
        gone = await client.get(url(world, created["id"]), headers=world.analyst.headers)
        problem(gone, 404)
        again = await client.delete(url(world, created["id"]), headers=world.analyst.headers)
        problem(again, 404)

    async def test_changes_are_audited(self, client: httpx.AsyncClient, world: World) -> None:
        created = await create(client, world)
        await client.patch(
            url(world, created["id"]), json={"name": "Renamed"}, headers=world.analyst.headers
        )
        await client.delete(url(world, created["id"]), headers=world.analyst.headers)
        entries = await audit_log(
            client, org_id=world.org_id, admin=world.admin, entity_id=created["id"]
        )
        assert [e["action"] for e in reversed(entries)] == [
            "import_profile.created",
            "import_profile.updated",
            "import_profile.deleted",
        ]
        assert {e["entity_type"] for e in entries} == {"import_profile"}
        assert entries[1]["changes"] == {"name": ["US bank", "Renamed"]}

    async def test_a_taken_name_is_a_409_case_insensitively(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        first = await create(client, world, name="My Bank")
        response = await client.post(
            url(world),
            json={"name": "  my bank ", "mapping": US_MAPPING},
            headers=world.analyst.headers,
        )
        problem(response, 409)
        other = await create(client, world, name="Other")
        renamed = await client.patch(
            url(world, other["id"]), json={"name": "MY BANK"}, headers=world.analyst.headers
        )
        problem(renamed, 409)
        # The same name in another org is fine.
        outsider = await client.post(
            f"/orgs/{world.outsider_org_id}/import-profiles",
            json={"name": "My Bank", "mapping": US_MAPPING},
            headers=world.outsider.headers,
        )
        assert outsider.status_code == 201, outsider.text
        assert first["id"] != outsider.json()["id"]

    async def test_concurrent_creates_of_one_name_give_one_201_and_409s(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(
                    url(world),
                    json={"name": "Race", "mapping": US_MAPPING},
                    headers=world.analyst.headers,
                )
                for _ in range(5)
            )
        )
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
        listed = await client.get(url(world), headers=world.analyst.headers)
        assert [p["name"] for p in listed.json()] == ["Race"]


class TestValidation:
    @pytest.mark.parametrize(
        ("mapping", "field"),
        [
            ({**US_MAPPING, "date_format": "YYYY/DD/MM"}, "mapping.date_format"),
            ({**US_MAPPING, "delimiter": ";;"}, "mapping.delimiter"),
            ({**US_MAPPING, "surprise": 1}, "mapping.surprise"),
            ({k: v for k, v in US_MAPPING.items() if k != "date_column"}, "mapping.date_column"),
            ({**US_MAPPING, "debit_column": "Out"}, "mapping"),
            ({**US_MAPPING, "has_header": False}, "mapping"),
        ],
    )
    async def test_a_bad_mapping_is_a_422_naming_the_field(
        self, client: httpx.AsyncClient, world: World, mapping: dict[str, Any], field: str
    ) -> None:
        response = await client.post(
            url(world), json={"name": "Bad", "mapping": mapping}, headers=world.analyst.headers
        )
        assert field in error_fields(response)

    @pytest.mark.parametrize("name", ["", "   ", "x" * 65, "tab\x07"])
    async def test_a_bad_name_is_a_422(
        self, client: httpx.AsyncClient, world: World, name: str
    ) -> None:
        response = await client.post(
            url(world), json={"name": name, "mapping": US_MAPPING}, headers=world.analyst.headers
        )
        assert error_fields(response) == {"name"}

    async def test_patch_refuses_null(self, client: httpx.AsyncClient, world: World) -> None:
        created = await create(client, world)
        response = await client.patch(
            url(world, created["id"]), json={"mapping": None}, headers=world.analyst.headers
        )
        assert error_fields(response) == {"mapping"}


class TestRoles:
    async def test_viewer_403_outsider_404_anonymous_401(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        for path in (url(world), url(world, created["id"])):
            problem(await client.get(path, headers=world.viewer.headers), 403)
            problem(await client.get(path, headers=world.outsider.headers), 404)
            problem(await client.get(path), 401)
        admin = await client.get(url(world, created["id"]), headers=world.admin.headers)
        assert admin.status_code == 200

    async def test_another_orgs_profile_is_not_found(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        mine = await create(client, world)
        theirs = f"/orgs/{world.outsider_org_id}/import-profiles/{mine['id']}"
        problem(await client.get(theirs, headers=world.outsider.headers), 404)
        problem(await client.delete(theirs, headers=world.outsider.headers), 404)


class TestSuggest:
    async def suggest(
        self, client: httpx.AsyncClient, world: World, content: bytes, name: str = "s.csv"
    ) -> httpx.Response:
        return await client.post(
            url(world, "suggest"), files={"file": (name, content)}, headers=world.analyst.headers
        )

    @pytest.mark.parametrize(
        ("example", "expected"),
        [
            ("bank-us.csv", {"date_format": "MM/DD/YYYY", "amount_column": "Amount"}),
            (
                "bank-debit-credit.csv",
                {"date_format": "DD/MM/YYYY", "debit_column": "Paid out"},
            ),
            (
                "bank-de-cp1252.csv",
                {"date_format": "DD.MM.YYYY", "delimiter": ";", "encoding": "cp1252"},
            ),
            ("bank-nl.tsv", {"delimiter": "\t"}),
        ],
    )
    async def test_the_example_files_get_a_complete_mapping_and_a_preview(
        self, client: httpx.AsyncClient, world: World, example: str, expected: dict[str, Any]
    ) -> None:
        response = await self.suggest(client, world, (EXAMPLES / example).read_bytes())
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["complete"] is True
        assert body["choices"] == []
        assert {k: body["mapping"][k] for k in expected} == expected
        assert body["preview"], "the first rows as they would be imported"
        row = body["preview"][0]
        assert set(row) >= {"date", "type", "amount", "currency", "description"}
        # The proposed mapping is one a profile can be saved with.
        saved = await client.post(
            url(world),
            json={"name": example, "mapping": body["mapping"]},
            headers=world.analyst.headers,
        )
        assert saved.status_code == 201, saved.text

    async def test_the_us_example_previews_its_rows(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await self.suggest(client, world, (EXAMPLES / "bank-us.csv").read_bytes())
        first = response.json()["preview"][0]
        assert first["date"] == "2026-03-12"
        assert first["type"] == "expense"
        assert first["amount"] == "3.50"
        assert first["description"] == "Blue Bottle Coffee"

    async def test_an_ambiguous_date_is_an_open_choice_not_a_guess(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        content = b"Date,Description,Amount\n01/02/2026,Coffee,-3.50\n03/04/2026,Salary,100.00\n"
        response = await self.suggest(client, world, content)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["complete"] is False
        assert body["mapping"]["date_format"] is None
        choice = next(c for c in body["choices"] if c["field"] == "date_format")
        assert set(choice["options"]) == {"DD/MM/YYYY", "MM/DD/YYYY"}
        assert body["preview"] == []

    @pytest.mark.parametrize(
        "content",
        [
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            bytes(range(256)) * 4,
            (EXAMPLES / "ofx-2.xml.ofx").read_bytes(),
        ],
        ids=["pdf", "binary", "ofx"],
    )
    async def test_what_is_no_csv_is_a_415(
        self, client: httpx.AsyncClient, world: World, content: bytes
    ) -> None:
        problem(await self.suggest(client, world, content), 415)

    async def test_a_file_over_the_import_limit_is_a_413(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        limit = app.state.settings.import_max_bytes
        content = b"Date,Description,Amount\n" + b"2026-03-01,Coffee,-3.50\n" * (limit // 24 + 1)
        problem(await self.suggest(client, world, content), 413)

    async def test_viewer_is_refused(self, client: httpx.AsyncClient, world: World) -> None:
        response = await client.post(
            url(world, "suggest"),
            files={"file": ("s.csv", (EXAMPLES / "bank-us.csv").read_bytes())},
            headers=world.viewer.headers,
        )
        problem(response, 403)


class TestServiceInterface:
    async def test_mapping_of_and_profile_by_name(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        created = await create(client, world, name="Chase Checking")
        async with database.sessions() as session:
            mapping = await profiles_service.mapping_of(
                session, world.org_id, uuid.UUID(created["id"])
            )
            assert mapping == CsvMapping.model_validate(US_MAPPING)
            profile = await profiles_service.profile_by_name(
                session, world.org_id, " chase checking"
            )
            assert str(profile.id) == created["id"]

    async def test_a_profile_of_another_org_or_none_is_a_422(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        created = await create(client, world, name="Mine")
        async with database.sessions() as session:
            for org_id, profile_id in (
                (world.outsider_org_id, uuid.UUID(created["id"])),
                (world.org_id, uuid.uuid4()),
            ):
                with pytest.raises(ValidationFailed) as raised:
                    await profiles_service.mapping_of(session, org_id, profile_id)
                assert [e.field for e in raised.value.errors] == ["profile_id"]
            with pytest.raises(ValidationFailed) as missing:
                await profiles_service.profile_by_name(session, world.org_id, "Nope")
            assert "Nope" in missing.value.detail
