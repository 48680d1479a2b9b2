"""HTTP rules every route follows without declaring them: ``HEAD`` wherever ``GET``, and the
headers that keep answers out of shared caches and browsers' content sniffing."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE_REVALIDATE = "private, no-cache"
"""``Cache-Control`` of a single record: a client may keep it but must revalidate it with its
ETag (``If-None-Match``, answered 304) before each use; shared caches never store it."""


class HeadAsGet:
    """``HEAD`` is answered as ``GET`` without the body (RFC 9110 9.3.2): same status, same
    headers, ``Content-Length`` included. Done once here rather than per route, so the OpenAPI
    document lists no ``HEAD`` operations and every future ``GET`` route has one; a path
    without ``GET`` answers ``HEAD`` with 405, like any other method it lacks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


class ProtectiveHeaders:
    """Every response, errors, 404s, the docs and a 500 included, carries
    ``X-Content-Type-Options: nosniff``; every one that does not set its own ``Cache-Control``
    carries ``no-store``: most answers hold private data or tokens, and the rest (health,
    metrics, problems) are live states not worth caching. Outermost, so it sees every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
