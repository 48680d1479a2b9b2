"""Each request has its one session to itself, kept in its own ASGI scope: whatever a server
does with the app's lifespan state (the ASGI spec asks for a copy per request; asgi-lifespan's
test wrapper, for one, hands every request the same dictionary), two requests at once never
share a session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from tests.factories import World

RECORD = {"amount": "12.34", "type": "expense", "category": "Groceries", "date": "2025-06-15"}


async def test_requests_at_once_through_a_server_sharing_the_state(
    app: FastAPI, world: World
) -> None:
    shared_state: dict[str, Any] = {}

    async def sharing_the_state(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = shared_state
        await app(scope, receive, send)

    transport = httpx.ASGITransport(app=sharing_the_state, raise_app_exceptions=False)
    base_url = f"http://test/api/v1/orgs/{world.org_id}"
    headers = world.analyst.headers
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        created = await asyncio.gather(
            *(client.post("/records", json=RECORD, headers=headers) for _ in range(8))
        )
        listed = await asyncio.gather(*(client.get("/records", headers=headers) for _ in range(8)))
        summary = await client.get("/dashboard/summary", headers=headers)
    assert [answer.status_code for answer in created] == [201] * 8
    assert [answer.status_code for answer in listed] == [200] * 8
    assert {len(answer.json()["items"]) for answer in listed} == {8}
    assert summary.json()["record_count"] == 8
