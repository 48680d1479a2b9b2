"""``If-None-Match`` on a record answers 304 while its ETag is current; restoring a record
that is not deleted is a conflict (409), while an id nothing has stays 404."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.factories import World, problem
from tests.records.helpers import Json, create_record, records_url


@pytest.fixture
async def record(client: httpx.AsyncClient, world: World) -> Json:
    return await create_record(client, org_id=world.org_id, actor=world.analyst)


class TestIfNoneMatch:
    @pytest.mark.parametrize("tags", ['"1"', 'W/"1"', '"7", "1"', '"7" ,W/"1"', "*"])
    async def test_current_etag_answers_304_without_a_body(
        self, client: httpx.AsyncClient, world: World, record: Json, tags: str
    ) -> None:
        url = records_url(world.org_id, record["id"])
        response = await client.get(url, headers={**world.viewer.headers, "If-None-Match": tags})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == '"1"'

    @pytest.mark.parametrize("tags", ['"2"', 'W/"0"', '"01"'])
    async def test_other_etag_answers_the_record(
        self, client: httpx.AsyncClient, world: World, record: Json, tags: str
    ) -> None:
        url = records_url(world.org_id, record["id"])
        response = await client.get(url, headers={**world.viewer.headers, "If-None-Match": tags})
        assert response.status_code == 200
        assert response.json() == record

    async def test_a_change_makes_the_old_etag_stale(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        changed = await client.patch(url, json={"notes": "x"}, headers=world.analyst.headers)
        assert changed.headers["etag"] == '"2"'
        stale = await client.get(url, headers={**world.viewer.headers, "If-None-Match": '"1"'})
        assert stale.status_code == 200
        assert stale.headers["etag"] == '"2"'
        current = await client.get(url, headers={**world.viewer.headers, "If-None-Match": '"2"'})
        assert current.status_code == 304

    @pytest.mark.parametrize("tags", ["1", '"1', "W/1", '"1";"2"'])
    async def test_malformed_header_is_a_400(
        self, client: httpx.AsyncClient, world: World, record: Json, tags: str
    ) -> None:
        url = records_url(world.org_id, record["id"])
        response = await client.get(url, headers={**world.viewer.headers, "If-None-Match": tags})
        problem(response, 400)

    async def test_deleted_record_is_404_whatever_the_tag(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        await client.delete(url, headers=world.admin.headers)
        response = await client.get(url, headers={**world.viewer.headers, "If-None-Match": "*"})
        problem(response, 404)


class TestRestore:
    async def test_live_record_is_a_409_and_unchanged(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 409)
        assert (await client.get(url, headers=world.admin.headers)).json() == record

    async def test_unknown_id_is_a_404(self, client: httpx.AsyncClient, world: World) -> None:
        url = records_url(world.org_id, uuid.uuid4())
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 404)

    async def test_another_orgs_deleted_record_is_a_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        theirs = await create_record(client, org_id=world.outsider_org_id, actor=world.outsider)
        await client.delete(
            records_url(world.outsider_org_id, theirs["id"]), headers=world.outsider.headers
        )
        url = records_url(world.org_id, theirs["id"])
        problem(await client.post(f"{url}/restore", headers=world.admin.headers), 404)

    async def test_two_restores_at_once_one_succeeds_one_conflicts(
        self, client: httpx.AsyncClient, world: World, record: Json
    ) -> None:
        url = records_url(world.org_id, record["id"])
        await client.delete(url, headers=world.admin.headers)
        responses = await asyncio.gather(
            *(client.post(f"{url}/restore", headers=world.admin.headers) for _ in range(2))
        )
        assert sorted(response.status_code for response in responses) == [200, 409]
