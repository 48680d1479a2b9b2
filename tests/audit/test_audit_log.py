"""The audit log: one entry per change, written with the change and only with it; filters and
newest-first cursor paging; admins read it and nobody can edit it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import World, error_fields, make_user, problem
from tests.records.helpers import (
    Json,
    audit_log,
    create_record,
    record_body,
    records_url,
    tampered,
)

ENTRY_FIELDS = {
    "id",
    "at",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "request_id",
}


def audit_url(world: World) -> str:
    return f"/orgs/{world.org_id}/audit"


async def entry_count(client: httpx.AsyncClient, world: World) -> int:
    return len(await audit_log(client, org_id=world.org_id, admin=world.admin))


class TestRecordChangesAreLogged:
    async def test_create_update_delete_restore_each_write_one_entry(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        record = await create_record(
            client, org_id=world.org_id, actor=world.analyst, amount="12.5", notes="lunch"
        )
        url = records_url(world.org_id, record["id"])
        updated = await client.patch(
            url,
            json={"amount": "13", "category": "FOOD", "notes": None, "type": "expense"},
            headers=world.analyst.headers,
        )
        assert updated.status_code == 200
        assert (await client.delete(url, headers=world.admin.headers)).status_code == 204
        assert (await client.post(f"{url}/restore", headers=world.admin.headers)).status_code == 200
        entries = list(reversed(await audit_log(client, org_id=world.org_id, admin=world.admin)))
        assert [entry["action"] for entry in entries] == [
            "record.created",
            "record.updated",
            "record.deleted",
            "record.restored",
        ]
        for entry in entries:
            assert set(entry) == ENTRY_FIELDS
            assert (entry["entity_type"], entry["entity_id"]) == ("record", record["id"])
        assert [entry["actor_id"] for entry in entries] == [
            str(world.analyst.user_id),
            str(world.analyst.user_id),
            str(world.admin.user_id),
            str(world.admin.user_id),
        ]
        created, changed, deleted, restored = (entry["changes"] for entry in entries)
        assert created == {
            "amount": [None, "12.50"],
            "currency": [None, "USD"],
            "type": [None, "expense"],
            "category": [None, "Food"],
            "date": [None, "2026-03-01"],
            "notes": [None, "lunch"],
            "account_id": [None, record["account_id"]],
        }
        assert changed == {"amount": ["12.50", "13.00"], "notes": ["lunch", None]}
        assert deleted == {"deleted": [False, True]}
        assert restored == {"deleted": [True, False]}

    async def test_request_id_is_the_one_the_change_answered_with(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        supplied = await client.post(
            records_url(world.org_id),
            json=record_body(),
            headers={**world.analyst.headers, "X-Request-ID": "client-req-0042"},
        )
        assert supplied.headers["x-request-id"] == "client-req-0042"
        generated = await client.patch(
            records_url(world.org_id, supplied.json()["id"]),
            json={"amount": "1"},
            headers=world.analyst.headers,
        )
        assert generated.headers["x-request-id"]
        entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
        assert [entry["request_id"] for entry in entries] == [
            generated.headers["x-request-id"],
            "client-req-0042",
        ]

    async def test_rejected_changes_leave_no_entry(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        record = await create_record(client, org_id=world.org_id, actor=world.analyst)
        url = records_url(world.org_id, record["id"])
        keyed = {**world.analyst.headers, "Idempotency-Key": "k-1"}
        assert (
            await client.post(records_url(world.org_id), json=record_body(), headers=keyed)
        ).status_code == 201
        before = await audit_log(client, org_id=world.org_id, admin=world.admin)
        records, member = records_url(world.org_id), f"/orgs/{world.org_id}/members"
        analyst, admin, stale = world.analyst.headers, world.admin.headers, {"If-Match": '"7"'}
        rejected: list[tuple[int, Callable[[], Awaitable[httpx.Response]]]] = [
            (422, lambda: client.post(records, json=record_body(amount="0"), headers=analyst)),
            (422, lambda: client.patch(url, json={"amount": "1.001"}, headers=analyst)),
            (412, lambda: client.patch(url, json={"amount": "2"}, headers={**analyst, **stale})),
            (412, lambda: client.delete(url, headers={**admin, **stale})),
            (409, lambda: client.post(records, json=record_body(amount="3"), headers=keyed)),
            (403, lambda: client.post(records, json=record_body(), headers=world.viewer.headers)),
            (403, lambda: client.delete(url, headers=analyst)),
            (
                409,
                lambda: client.patch(
                    f"{member}/{world.admin.user_id}", json={"role": "viewer"}, headers=admin
                ),
            ),
            (422, lambda: client.patch(f"/orgs/{world.org_id}", json={"name": ""}, headers=admin)),
        ]
        for status, send in rejected:
            response = await send()
            assert response.status_code == status, response.text
        assert await audit_log(client, org_id=world.org_id, admin=world.admin) == before

    async def test_entries_belong_to_the_org_of_the_change(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await create_record(client, org_id=world.outsider_org_id, actor=world.outsider)
        assert await entry_count(client, world) == 0
        theirs = await audit_log(client, org_id=world.outsider_org_id, admin=world.outsider)
        assert [entry["action"] for entry in theirs] == ["record.created"]


class TestMemberAndOrgChangesAreLogged:
    async def test_member_added_updated_removed_and_org_renamed(
        self, app: FastAPI, client: httpx.AsyncClient, world: World
    ) -> None:
        newcomer = await make_user(app)
        members = f"/orgs/{world.org_id}/members"
        admin = world.admin.headers
        added = await client.post(
            members, json={"email": newcomer.email, "role": "viewer"}, headers=admin
        )
        assert added.status_code == 201, added.text
        member = f"{members}/{newcomer.user_id}"
        assert (
            await client.patch(member, json={"role": "analyst"}, headers=admin)
        ).status_code == 200
        assert (
            await client.patch(member, json={"role": "analyst"}, headers=admin)
        ).status_code == 200
        assert (
            await client.patch(member, json={"is_active": False}, headers=admin)
        ).status_code == 200
        assert (await client.delete(member, headers=admin)).status_code == 204
        renamed = await client.patch(
            f"/orgs/{world.org_id}", json={"name": "Acme Two"}, headers=admin
        )
        assert renamed.status_code == 200
        entries = list(reversed(await audit_log(client, org_id=world.org_id, admin=world.admin)))
        summary = [(e["action"], e["entity_type"], e["entity_id"], e["changes"]) for e in entries]
        who = str(newcomer.user_id)
        assert summary == [
            (
                "member.added",
                "membership",
                who,
                {"role": [None, "viewer"], "is_active": [None, True]},
            ),
            ("member.updated", "membership", who, {"role": ["viewer", "analyst"]}),
            ("member.updated", "membership", who, {"is_active": [True, False]}),
            (
                "member.removed",
                "membership",
                who,
                {"role": ["analyst", None], "is_active": [False, None]},
            ),
            ("org.updated", "org", str(world.org_id), {"name": ["Acme", "Acme Two"]}),
        ]
        assert {entry["actor_id"] for entry in entries} == {str(world.admin.user_id)}


async def make_history(client: httpx.AsyncClient, world: World) -> list[Json]:
    """Eleven entries by two actors on three records; the log as served, newest first."""
    records = [
        await create_record(client, org_id=world.org_id, actor=actor)
        for actor in (world.analyst, world.admin, world.analyst)
    ]
    for record in records:
        url = records_url(world.org_id, record["id"])
        await client.patch(url, json={"amount": "1"}, headers=world.analyst.headers)
        await client.patch(url, json={"amount": "2"}, headers=world.admin.headers)
    await client.delete(records_url(world.org_id, records[0]["id"]), headers=world.admin.headers)
    await client.patch(
        f"/orgs/{world.org_id}", json={"name": "Renamed"}, headers=world.admin.headers
    )
    entries = await audit_log(client, org_id=world.org_id, admin=world.admin)
    assert len(entries) == 11
    return entries


class TestReadingTheLog:
    async def test_filters_select_the_matching_entries(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        entries = await make_history(client, world)
        some_record = next(e["entity_id"] for e in entries if e["action"] == "record.deleted")
        today = dt.datetime.now(dt.UTC).date()
        filters: list[dict[str, Any]] = [
            {"entity_type": "record"},
            {"entity_type": "org"},
            {"entity_id": some_record},
            {"actor_id": str(world.analyst.user_id)},
            {"action": "record.updated"},
            {"action": "record.updated", "actor_id": str(world.admin.user_id)},
            {"date_from": today.isoformat(), "date_to": today.isoformat()},
            {"date_from": (today + dt.timedelta(days=1)).isoformat()},
            {"date_to": (today - dt.timedelta(days=1)).isoformat()},
        ]
        for query in filters:
            expected = [
                e for e in entries if all(matches_filter(e, k, v) for k, v in query.items())
            ]
            with subtests.test(query=query):
                served = await audit_log(client, org_id=world.org_id, admin=world.admin, **query)
                assert served == expected

    async def test_cursor_pages_are_newest_first_without_repeats(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        entries = await make_history(client, world)
        order = [(dt.datetime.fromisoformat(e["at"]), e["id"]) for e in entries]
        assert order == sorted(order, reverse=True)
        served: list[Json] = []
        params: dict[str, Any] = {"limit": 4}
        while True:
            page = (
                await client.get(audit_url(world), params=params, headers=world.admin.headers)
            ).json()
            assert len(page["items"]) <= 4
            served.extend(page["items"])
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert served == entries
        updates = await audit_log(
            client, org_id=world.org_id, admin=world.admin, action="record.updated", limit=2
        )
        assert updates == [e for e in entries if e["action"] == "record.updated"]

    async def test_bad_queries_are_400_or_422(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        await make_history(client, world)
        first = await client.get(audit_url(world), params={"limit": 2}, headers=world.admin.headers)
        cursor = first.json()["next_cursor"]
        forged = tampered(cursor, ["2026-03-01T10:00:00", "not-a-uuid"])
        bad_requests: list[dict[str, Any]] = [
            {"cursor": cursor, "action": "record.created"},
            {"cursor": "garbage"},
            {"cursor": tampered(cursor, ["2026-03-01T10:00:00", first.json()["items"][0]["id"]])},
            {"cursor": tampered(cursor, [17, 42])},
            {"cursor": forged},
        ]
        for params in bad_requests:
            with subtests.test(params=str(params)[:60]):
                response = await client.get(
                    audit_url(world), params=params, headers=world.admin.headers
                )
                problem(response, 400)
        invalid: list[tuple[dict[str, Any], str]] = [
            ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "query.date_to"),
            ({"date_from": "0"}, "query.date_from"),
            ({"date_to": "2026-03-01T00:00:00"}, "query.date_to"),
            ({"entity_id": "a\x00b"}, "query.entity_id"),
            ({"entity_type": "user"}, "query.entity_type"),
            ({"action": "record.exploded"}, "query.action"),
            ({"actor_id": "nobody"}, "query.actor_id"),
            ({"limit": 0}, "query.limit"),
            ({"limit": 201}, "query.limit"),
        ]
        for params, field in invalid:
            with subtests.test(params=params):
                response = await client.get(
                    audit_url(world), params=params, headers=world.admin.headers
                )
                assert error_fields(response) == {field}


def matches_filter(entry: Json, name: str, value: str) -> bool:
    day = dt.datetime.fromisoformat(entry["at"]).astimezone(dt.UTC).date().isoformat()
    if name == "date_from":
        return day >= value
    if name == "date_to":
        return day <= value
    return bool(entry[name] == value)


class TestTheLogIsReadOnlyAndForAdmins:
    async def test_no_method_changes_the_log(
        self, client: httpx.AsyncClient, world: World, subtests: pytest.Subtests
    ) -> None:
        await create_record(client, org_id=world.org_id, actor=world.analyst)
        entry = (await audit_log(client, org_id=world.org_id, admin=world.admin))[0]
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            with subtests.test(method=method):
                response = await client.request(
                    method, audit_url(world), json={}, headers=world.admin.headers
                )
                problem(response, 405)
                response = await client.request(
                    method,
                    f"{audit_url(world)}/{entry['id']}",
                    json={},
                    headers=world.admin.headers,
                )
                assert response.status_code in (404, 405)
        assert await audit_log(client, org_id=world.org_id, admin=world.admin) == [entry]

    async def test_only_admins_read_it(self, client: httpx.AsyncClient, world: World) -> None:
        for actor in (world.analyst, world.viewer):
            problem(await client.get(audit_url(world), headers=actor.headers), 403)
        problem(await client.get(audit_url(world), headers=world.outsider.headers), 404)
        problem(await client.get(audit_url(world)), 401)
