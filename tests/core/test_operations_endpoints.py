"""``/readyz``'s body and the bearer token that guards ``/metrics`` when one is configured."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import AppFactory
from tests.factories import problem

METRICS_TOKEN = "scraper-token-0123456789"


def root_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_readyz_names_each_dependency(app: FastAPI) -> None:
    async with root_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "redis": "off"}


async def test_metrics_are_open_without_a_token(app: FastAPI) -> None:
    async with root_client(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert "ledgerline_http_requests_total" in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        f"Basic {METRICS_TOKEN}",
        METRICS_TOKEN,
        f"Bearer {METRICS_TOKEN}x",
    ],
)
async def test_metrics_token_is_required_when_configured(
    app_factory: AppFactory, authorization: str | None
) -> None:
    application = await app_factory(metrics_token=METRICS_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    async with root_client(application) as client:
        refused = await client.get("/metrics", headers=headers)
        accepted = await client.get(
            "/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"}
        )
    problem(refused, 401)
    assert "ledgerline_http_requests_total" not in refused.text
    assert accepted.status_code == 200
    assert "ledgerline_http_requests_total" in accepted.text
