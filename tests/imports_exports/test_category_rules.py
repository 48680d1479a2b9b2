"""Category rules over HTTP (order kept 1..n), and the Categoriser statement imports use:
rules first in order, then the org's last record with the same description, else None."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ledgerline.core.db import Database
from ledgerline.imports_exports.category_rules.models import CategoryRule
from ledgerline.imports_exports.category_rules.service import MAX_RULES, Categoriser
from tests.accounts.helpers import create_account
from tests.factories import World, error_fields, problem
from tests.records.helpers import audit_log, create_record, records_url


def url(world: World, rule_id: object = None) -> str:
    base = f"/orgs/{world.org_id}/category-rules"
    return base if rule_id is None else f"{base}/{rule_id}"


async def add(client: httpx.AsyncClient, world: World, **body: Any) -> dict[str, Any]:
    payload = {"match": "contains", "pattern": "coffee", "category": "Food", **body}
    response = await client.post(url(world), json=payload, headers=world.analyst.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patterns(client: httpx.AsyncClient, world: World) -> list[str]:
    response = await client.get(url(world), headers=world.analyst.headers)
    assert response.status_code == 200, response.text
    rules = response.json()
    assert [r["position"] for r in rules] == list(range(1, len(rules) + 1))
    return [r["pattern"] for r in rules]


async def categories(database: Database, world: World, *descriptions: str) -> list[str | None]:
    async with database.sessions() as session:
        categoriser = await Categoriser.load(session, world.org_id)
        return await categoriser.categories_for(list(descriptions))


class TestCrud:
    async def test_create_appends_and_answers_every_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        first = await add(client, world, pattern="coffee")
        assert first == {
            "id": first["id"],
            "position": 1,
            "field": "description",
            "match": "contains",
            "pattern": "coffee",
            "case_sensitive": False,
            "category": "Food",
            "created_at": first["created_at"],
            "updated_at": first["updated_at"],
        }
        second = await add(client, world, pattern="rent", match="equals", case_sensitive=True)
        assert second["position"] == 2
        got = await client.get(url(world, second["id"]), headers=world.admin.headers)
        assert got.json() == second

    async def test_a_position_moves_the_others(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        a = await add(client, world, pattern="a")
        await add(client, world, pattern="b")
        await add(client, world, pattern="c", position=1)
        assert await patterns(client, world) == ["c", "a", "b"]
        await add(client, world, pattern="d", position=99)  # past the end: appended
        assert await patterns(client, world) == ["c", "a", "b", "d"]
        moved = await client.patch(
            url(world, a["id"]), json={"position": 4}, headers=world.analyst.headers
        )
        assert moved.json()["position"] == 4
        assert await patterns(client, world) == ["c", "b", "d", "a"]
        await client.patch(url(world, a["id"]), json={"position": 1}, headers=world.admin.headers)
        assert await patterns(client, world) == ["a", "c", "b", "d"]
        deleted = await client.delete(url(world, a["id"]), headers=world.analyst.headers)
        assert deleted.status_code == 204
        assert await patterns(client, world) == ["c", "b", "d"]
        problem(await client.get(url(world, a["id"]), headers=world.analyst.headers), 404)

    async def test_patch_changes_the_fields_sent_and_audits(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        rule = await add(client, world)
        patched = await client.patch(
            url(world, rule["id"]),
            json={"match": "starts_with", "category": " Coffee shops "},
            headers=world.analyst.headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["match"] == "starts_with"
        assert patched.json()["category"] == "Coffee shops"
        assert patched.json()["pattern"] == "coffee"
        await client.delete(url(world, rule["id"]), headers=world.analyst.headers)
        entries = await audit_log(
            client, org_id=world.org_id, admin=world.admin, entity_id=rule["id"]
        )
        assert [e["action"] for e in reversed(entries)] == [
            "category_rule.created",
            "category_rule.updated",
            "category_rule.deleted",
        ]
        assert entries[1]["changes"] == {
            "match": ["contains", "starts_with"],
            "category": ["Food", "Coffee shops"],
        }

    async def test_concurrent_appends_get_distinct_positions(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        responses = await asyncio.gather(
            *(
                client.post(
                    url(world),
                    json={"match": "equals", "pattern": f"p{n}", "category": "X"},
                    headers=world.analyst.headers,
                )
                for n in range(6)
            )
        )
        assert [r.status_code for r in responses] == [201] * 6
        assert sorted(await patterns(client, world)) == [f"p{n}" for n in range(6)]

    async def test_an_org_keeps_at_most_the_limit(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        async with database.sessions() as session:
            session.add_all(
                CategoryRule(
                    org_id=world.org_id,
                    position=n,
                    match="equals",
                    pattern=f"p{n}",
                    case_sensitive=False,
                    category="X",
                )
                for n in range(1, MAX_RULES)
            )
            await session.commit()
        last = await add(client, world)
        assert last["position"] == MAX_RULES
        response = await client.post(
            url(world),
            json={"match": "contains", "pattern": "one more", "category": "X"},
            headers=world.analyst.headers,
        )
        assert "at most" in problem(response, 409)["detail"]


class TestValidationAndRoles:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"match": "regex"}, "match"),
            ({"field": "amount"}, "field"),
            ({"pattern": ""}, "pattern"),
            ({"pattern": "   "}, "pattern"),
            ({"pattern": "x" * 201}, "pattern"),
            ({"category": ""}, "category"),
            ({"category": "x" * 65}, "category"),
            ({"category": "bell\x07"}, "category"),
            ({"position": 0}, "position"),
            ({"position": "2"}, "position"),
            ({"case_sensitive": "yes"}, "case_sensitive"),
            ({"extra": 1}, "extra"),
        ],
    )
    async def test_bad_fields_are_a_422_naming_them(
        self, client: httpx.AsyncClient, world: World, body: dict[str, Any], field: str
    ) -> None:
        payload = {"match": "contains", "pattern": "coffee", "category": "Food", **body}
        response = await client.post(url(world), json=payload, headers=world.analyst.headers)
        assert error_fields(response) == {field}

    async def test_patch_refuses_null(self, client: httpx.AsyncClient, world: World) -> None:
        rule = await add(client, world)
        response = await client.patch(
            url(world, rule["id"]), json={"pattern": None}, headers=world.analyst.headers
        )
        assert error_fields(response) == {"pattern"}

    async def test_viewer_403_outsider_404(self, client: httpx.AsyncClient, world: World) -> None:
        rule = await add(client, world)
        for path in (url(world), url(world, rule["id"])):
            problem(await client.get(path, headers=world.viewer.headers), 403)
            problem(await client.get(path, headers=world.outsider.headers), 404)
        viewer_post = await client.post(
            url(world),
            json={"match": "contains", "pattern": "x", "category": "X"},
            headers=world.viewer.headers,
        )
        problem(viewer_post, 403)
        theirs = f"/orgs/{world.outsider_org_id}/category-rules/{rule['id']}"
        problem(await client.delete(theirs, headers=world.outsider.headers), 404)


class TestCategoriser:
    async def test_the_first_matching_rule_in_position_order_wins(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        await add(client, world, match="contains", pattern="coffee", category="Coffee")
        await add(client, world, match="starts_with", pattern="blue", category="Blue")
        await add(client, world, match="equals", pattern="Rent", category="Housing")
        assert await categories(
            database, world, "Blue Bottle COFFEE", "blue sky", "rent", "Rent due", "Salary"
        ) == ["Coffee", "Blue", "Housing", None, None]
        # Moving the starts_with rule first changes the winner.
        rules = (await client.get(url(world), headers=world.analyst.headers)).json()
        await client.patch(
            url(world, rules[1]["id"]), json={"position": 1}, headers=world.analyst.headers
        )
        assert await categories(database, world, "Blue Bottle COFFEE") == ["Blue"]

    async def test_case_sensitivity(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        await add(
            client, world, match="contains", pattern="ATM", case_sensitive=True, category="Cash"
        )
        await add(client, world, match="equals", pattern="straße", category="Street")
        await add(
            client, world, match="starts_with", pattern="Café", case_sensitive=True, category="Cafe"
        )
        assert await categories(
            database,
            world,
            "ATM withdrawal",
            "Batman comics",
            "STRASSE",
            "Strasse 1",
            "Cafe\u0301 Central",  # the same letters, the accent as a combining mark
            "CAFÉ Central",
        ) == ["Cash", None, "Street", None, "Cafe", None]

    async def test_the_most_recent_record_with_the_same_description(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        org, admin = world.org_id, world.admin
        await create_record(
            client, org_id=org, actor=admin, notes="Netflix", category="Fun", date="2026-01-05"
        )
        await create_record(
            client,
            org_id=org,
            actor=admin,
            notes="Netflix",
            category="Streaming",
            date="2026-02-05",
        )
        await create_record(
            client, org_id=org, actor=admin, notes="Netflix", category="Old", date="2025-12-05"
        )  # created last, but dated earlier
        await create_record(
            client, org_id=org, actor=admin, notes="Gym", category="Sport A", date="2026-03-01"
        )
        await create_record(
            client, org_id=org, actor=admin, notes="Gym", category="Sport B", date="2026-03-01"
        )  # same day: the later created wins
        deleted = await create_record(
            client, org_id=org, actor=admin, notes="Gym", category="Deleted", date="2026-04-01"
        )
        response = await client.delete(records_url(org, deleted["id"]), headers=admin.headers)
        assert response.status_code == 204, response.text
        assert await categories(database, world, "Netflix", "Gym", "netflix", "Nothing") == [
            "Streaming",
            "Sport B",
            None,
            None,
        ]

    async def test_a_rule_comes_before_the_last_record(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        await create_record(
            client, org_id=world.org_id, actor=world.admin, notes="Uber trip", category="Taxi"
        )
        await add(client, world, match="starts_with", pattern="uber", category="Transport")
        assert await categories(database, world, "Uber trip") == ["Transport"]

    async def test_transfer_legs_and_other_orgs_are_ignored(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        one = await create_account(client, world.org_id, world.admin, name="One")
        two = await create_account(client, world.org_id, world.admin, name="Two")
        transfer = await client.post(
            f"/orgs/{world.org_id}/transfers",
            json={
                "from_account_id": one["id"],
                "to_account_id": two["id"],
                "amount": "5.00",
                "date": "2026-03-01",
                "notes": "Savings",
            },
            headers=world.admin.headers,
        )
        assert transfer.status_code == 201, transfer.text
        await create_record(
            client,
            org_id=world.outsider_org_id,
            actor=world.outsider,
            notes="Savings",
            category="Elsewhere",
        )
        assert await categories(database, world, "Savings") == [None]

    async def test_answers_every_position_and_remembers_across_calls(
        self, client: httpx.AsyncClient, world: World, database: Database
    ) -> None:
        await create_record(
            client, org_id=world.org_id, actor=world.admin, notes="Lunch", category="Food"
        )
        long_text = "é" * 1000
        await create_record(
            client, org_id=world.org_id, actor=world.admin, notes=long_text, category="Long"
        )
        async with database.sessions() as session:
            categoriser = await Categoriser.load(session, world.org_id)
            assert await categoriser.categories_for(
                ["Lunch", "", "Lunch", long_text, "x\x00y", "é" * 1001]
            ) == ["Food", None, "Food", "Long", None, None]
            assert await categoriser.categories_for([]) == []
            await session.commit()  # SQLite: let the API write
            # A record added later is not seen: each description is decided once per import.
            await create_record(
                client,
                org_id=world.org_id,
                actor=world.admin,
                notes="Lunch",
                category="Changed",
                date="2027-01-01",
            )
            assert await categoriser.categories_for(["Lunch"]) == ["Food"]
