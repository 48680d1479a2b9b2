"""HTTP rules every route follows without declaring them: ``HEAD`` wherever ``GET``."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
