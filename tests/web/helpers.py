"""A browser-like client of the web app for in-process tests: cookies, CSRF tokens, pages."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.factories import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def web_client(app: FastAPI, *, scheme: str = "http") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=f"{scheme}://test")


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match is not None, "the page has no form token"
    return match.group(1)


async def token_for(client: httpx.AsyncClient, path: str = "/login") -> str:
    return csrf_of(await client.get(path))


async def sign_in_web(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Post the sign-in form as a browser would; the answer (303 to the landing page)."""
    token = await token_for(client)
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )


@asynccontextmanager
async def signed_in(app: FastAPI, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(app) as client:
        response = await sign_in_web(client, email)
        assert response.status_code == 303, response.text
        yield client


def texts(page: httpx.Response, pattern: str) -> list[str]:
    """The unescaped text of each match of ``pattern``'s first group."""
    return [html.unescape(found) for found in re.findall(pattern, page.text, flags=re.S)]
