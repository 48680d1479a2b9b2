from __future__ import annotations

import httpx

from tests.factories import World


class TestMembers:
    async def test_admin_lists_members_with_roles(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.get(f"/orgs/{world.org_id}/members", headers=world.admin.headers)
        assert response.status_code == 200
        roles = {m["email"]: m["role"] for m in response.json()}
        assert roles == {
            world.admin.email: "admin",
            world.analyst.email: "analyst",
            world.viewer.email: "viewer",
        }
