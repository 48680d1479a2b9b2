"""A record's life: read, partial updates with versions and If-Match, soft delete and restore,
and other orgs' records staying out of reach."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import World, error_fields, problem
from tests.records.helpers import (
    Json,
    audit_log,
    create_record,
    get_record,
    records_url,
    walk_records,
)


@pytest.fixture
async def record(client: httpx.AsyncClient, world: World) -> Json:
    return await create_record(
        client,
        org_id=world.org_id,
        actor=world.analyst,
        amount="40.50",
        category="Food",
        date="2026-03-01",
        notes="lunch",
    )


async def patch(
    client: httpx.AsyncClient, world: World, record_id: str, body: Json, **headers: str
) -> httpx.Response:
    return await client.patch(
        records_url(world.org_id, record_id),
        json=body,
        headers={**world.analyst.headers, **headers},
    )


class TestGetRecord:
    async def test_every_member_reads_it_with_its_version_as_etag(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        for actor in (world.viewer, world.analyst, world.admin):
            response = await get_record(
                client, org_id=world.org_id, actor=actor, record_id=record["id"]
            )
            assert response.status_code == 200
            assert response.headers["etag"] == '"1"'
            assert response.json() == record

    async def test_unknown_id_is_not_found(self, client: httpx.AsyncClient, world: World) -> None:
        unknown = "01900000-0000-7000-8000-000000000000"
        response = await get_record(
            client, org_id=world.org_id, actor=world.admin, record_id=unknown
        )
        problem(response, 404)

    async def test_record_of_another_org_is_not_found_through_this_org(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        theirs = await create_record(client, org_id=world.outsider_org_id, actor=world.outsider)
        url = records_url(world.org_id, theirs["id"])
        problem(await client.get(url, headers=world.admin.headers), 404)
        problem(await client.patch(url, json={"amount": "1"}, headers=world.admin.headers), 404)
        problem(await client.delete(url, headers=world.admin.headers), 404)
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 404)
        listed = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert listed == []
        untouched = await get_record(
            client, org_id=world.outsider_org_id, actor=world.outsider, record_id=theirs["id"]
        )
        assert untouched.json() == theirs

    async def test_outsider_cannot_see_the_org_at_all(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        response = await get_record(
            client, org_id=world.org_id, actor=world.outsider, record_id=record["id"]
        )
        problem(response, 404)


class TestUpdateRecord:
    async def test_changes_only_the_sent_fields_and_bumps_the_version(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        response = await patch(client, world, record["id"], {"amount": "41.5"})
        assert response.status_code == 200, response.text
        updated = response.json()
        assert response.headers["etag"] == '"2"'
        assert updated["amount"] == "41.50"
        assert updated["version"] == 2
        unchanged = {"amount", "version", "updated_at", "updated_by"}
        assert {k: v for k, v in updated.items() if k not in unchanged} == {
            k: v for k, v in record.items() if k not in unchanged
        }
        assert updated["updated_at"] >= record["updated_at"]
        response = await client.patch(
            records_url(world.org_id, record["id"]),
            json={"category": " food ", "type": "income", "date": "2025-12-31"},
            headers=world.admin.headers,
        )
        again = response.json()
        assert (again["category"], again["type"], again["date"]) == ("Food", "income", "2025-12-31")
        assert (again["notes"], again["amount"], again["version"]) == ("lunch", "41.50", 3)
        assert again["updated_by"] == str(world.admin.user_id)
        assert again["created_by"] == str(world.analyst.user_id)
        fetched = await get_record(
            client, org_id=world.org_id, actor=world.viewer, record_id=record["id"]
        )
        assert fetched.json() == again
        assert fetched.headers["etag"] == '"3"'

    async def test_update_that_changes_nothing_keeps_the_version_and_logs_nothing(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        for body in ({}, {"amount": "40.5", "category": "FOOD", "notes": "lunch"}):
            response = await patch(client, world, record["id"], body, **{"If-Match": '"1"'})
            assert response.status_code == 200, response.text
            assert response.headers["etag"] == '"1"'
            assert response.json() == record
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        assert [entry["action"] for entry in entries] == ["record.created"]

    async def test_null_notes_clears_them_and_absent_notes_keep_them(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        kept = await patch(client, world, record["id"], {"amount": "5"})
        assert kept.json()["notes"] == "lunch"
        cleared = await patch(client, world, record["id"], {"notes": None})
        assert cleared.status_code == 200
        assert cleared.json()["notes"] is None

    async def test_currency_change_keeps_the_amount_when_it_fits(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        response = await patch(client, world, record["id"], {"currency": "KWD"})
        assert (response.json()["amount"], response.json()["currency"]) == ("40.500", "KWD")
        response = await patch(client, world, record["id"], {"currency": "JPY", "amount": "40"})
        assert (response.json()["amount"], response.json()["currency"]) == ("40", "JPY")

    async def test_null_or_invalid_values_are_422_and_change_nothing(
        self, client: httpx.AsyncClient, world: World, record: Json, subtests: pytest.Subtests
    ) -> None:
        cases: list[tuple[Json, set[str]]] = [
            ({"amount": None}, {"amount"}),
            ({"type": None}, {"type"}),
            ({"category": None}, {"category"}),
            ({"date": None}, {"date"}),
            ({"currency": None}, {"currency"}),
            ({"amount": "0"}, {"amount"}),
            ({"amount": "1.001"}, {"amount"}),
            ({"currency": "JPY"}, {"amount"}),
            ({"category": " "}, {"category"}),
            ({"notes": "x" * 1001}, {"notes"}),
            ({"date": "2200-01-01"}, {"date"}),
            ({"version": 9}, {"version"}),
            ({"deleted": True}, {"deleted"}),
            ({"amount": None, "type": "transfer"}, {"amount", "type"}),
        ]
        for body, fields in cases:
            with subtests.test(body=str(body)[:30]):
                assert error_fields(await patch(client, world, record["id"], body)) == fields
        fetched = await get_record(
            client, org_id=world.org_id, actor=world.admin, record_id=record["id"]
        )
        assert fetched.json() == record
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        assert [entry["action"] for entry in entries] == ["record.created"]

    async def test_matching_if_match_updates(
        self, client: httpx.AsyncClient, world: World, record: Json, subtests: pytest.Subtests
    ) -> None:
        for version, if_match in enumerate(['"1"', 'W/"2"', ' "3" ', "*"], start=1):
            with subtests.test(if_match=if_match):
                response = await patch(
                    client,
                    world,
                    record["id"],
                    {"amount": str(version + 100)},
                    **{"If-Match": if_match},
                )
                assert response.status_code == 200, response.text
                assert response.json()["version"] == version + 1

    async def test_stale_if_match_changes_nothing(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        current = await patch(client, world, record["id"], {"notes": "dinner"})
        log_before = await audit_log(client, org_id=world.org_id, admin=world.admin)
        for stale in ('"1"', '"3"', '"0"'):
            response = await patch(
                client, world, record["id"], {"amount": "99", "notes": "x"}, **{"If-Match": stale}
            )
            body = problem(response, 412)
            assert "version" in body["detail"]
            deleted = await client.delete(
                records_url(world.org_id, record["id"]),
                headers={**world.admin.headers, "If-Match": stale},
            )
            problem(deleted, 412)
        fetched = await get_record(
            client, org_id=world.org_id, actor=world.admin, record_id=record["id"]
        )
        assert fetched.json() == current.json()
        assert await audit_log(client, org_id=world.org_id, admin=world.admin) == log_before

    async def test_malformed_if_match_is_a_bad_request(
        self, client: httpx.AsyncClient, world: World, record: Json, subtests: pytest.Subtests
    ) -> None:
        for malformed in ("1", '"one"', '"1', '"-1"', '"1", "2"', '"' + "9" * 19 + '"', ""):
            with subtests.test(if_match=malformed):
                response = await patch(
                    client, world, record["id"], {"amount": "3"}, **{"If-Match": malformed}
                )
                problem(response, 400)
        fetched = await get_record(
            client, org_id=world.org_id, actor=world.admin, record_id=record["id"]
        )
        assert fetched.json()["version"] == 1

    async def test_viewer_cannot_update(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        response = await client.patch(
            records_url(world.org_id, record["id"]),
            json={"amount": "1"},
            headers=world.viewer.headers,
        )
        problem(response, 403)


class TestDeleteAndRestore:
    async def test_deleted_record_is_gone_from_get_update_delete_and_lists(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        response = await client.delete(url, headers=world.admin.headers)
        assert response.status_code == 204
        assert response.content == b""
        problem(await client.get(url, headers=world.admin.headers), 404)
        problem(await client.patch(url, json={"amount": "1"}, headers=world.admin.headers), 404)
        problem(await client.delete(url, headers=world.admin.headers), 404)
        assert await walk_records(client, org_id=world.org_id, actor=world.admin) == []

    async def test_admin_lists_deleted_records_others_may_not(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        live = await create_record(client, org_id=world.org_id, actor=world.analyst, notes="stays")
        assert (
            await client.delete(
                records_url(world.org_id, record["id"]), headers=world.admin.headers
            )
        ).status_code == 204
        deleted = await walk_records(
            client, org_id=world.org_id, actor=world.admin, params={"deleted": "only"}
        )
        assert [item["id"] for item in deleted] == [record["id"]]
        assert deleted[0]["version"] == 2
        listed = await walk_records(client, org_id=world.org_id, actor=world.admin)
        assert [item["id"] for item in listed] == [live["id"]]
        for actor in (world.analyst, world.viewer):
            response = await client.get(
                records_url(world.org_id), params={"deleted": "only"}, headers=actor.headers
            )
            problem(response, 403)
        response = await client.get(
            records_url(world.org_id), params={"deleted": "all"}, headers=world.admin.headers
        )
        assert error_fields(response) == {"query.deleted"}

    async def test_restore_makes_it_visible_again(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        await client.delete(url, headers=world.admin.headers)
        response = await client.post(f"{url}/restore", headers=world.admin.headers)
        assert response.status_code == 200, response.text
        restored = response.json()
        assert response.headers["etag"] == '"3"'
        assert restored["version"] == 3
        assert {k: restored[k] for k in ("amount", "category", "date", "notes")} == {
            k: record[k] for k in ("amount", "category", "date", "notes")
        }
        assert (await client.get(url, headers=world.viewer.headers)).json() == restored
        listed = await walk_records(client, org_id=world.org_id, actor=world.viewer)
        assert [item["id"] for item in listed] == [record["id"]]
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 409)
        deleted = await walk_records(
            client, org_id=world.org_id, actor=world.admin, params={"deleted": "only"}
        )
        assert deleted == []

    async def test_only_admins_delete_and_restore(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        for actor in (world.analyst, world.viewer):
            problem(await client.delete(url, headers=actor.headers), 403)
        await client.delete(url, headers=world.admin.headers)
        for actor in (world.analyst, world.viewer):
            problem(await client.post(f"{url}/restore", headers=actor.headers), 403)
