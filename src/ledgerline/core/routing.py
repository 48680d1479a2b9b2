"""The route class every endpoint uses: exact JSON numbers, content-type checks, one commit.

Each request is one transaction. Services flush and never commit; this route class commits after
the endpoint returns and *before* the response is sent, so a client is never told 2xx for a change
that failed to commit. (Since FastAPI 0.118 the code after ``yield`` in a dependency runs after the
response has gone out, which is too late for a commit.)

Request bodies are limited here too (``max_json_body_bytes``, or an endpoint's own
``body_limit``) rather than by FastAPI's limiter, which answers an oversized body with a
plain-text 413 that no exception handler can turn into a problem document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request, Response, params
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

from ledgerline.core.config import Settings
from ledgerline.core.errors import AppError, BadRequest, ServiceUnavailable, UnsupportedMediaType
from ledgerline.core.faults import is_database_unavailable, sqlstate_of

SESSION_STATE_KEY = "db_session"
BodyLimit = Callable[[Settings], int]
_BODY_LIMIT_ATTRIBUTE = "__ledgerline_body_limit__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CHARACTER_NOT_IN_REPERTOIRE = "22021"
UNSTORABLE_TEXT = "the request holds text with a NUL character, which cannot be stored or searched"
"""Where text from a request reaches PostgreSQL unchecked: the schemas refuse control characters
in every text field they know of, so this answers for one they missed, rather than a 500."""


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


class ExactJSONRequest(Request):
    """Reads JSON numbers from their text as ``Decimal``, never through a binary float."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
        return self._json


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def _has_body(request: Request) -> bool:
    return bool(_declared_length(request)) or "transfer-encoding" in request.headers


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that refuses a body growing past ``limit`` bytes, whatever it declared.

    The refusal is an ``HTTPException``: FastAPI re-raises those from body parsing as they are,
    where any other error would become a 400.
    """
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413)
        return message

    return receive_within_limit


def request_session(request: Request) -> AsyncSession | None:
    session = getattr(request.state, SESSION_STATE_KEY, None)
    return session if isinstance(session, AsyncSession) else None


async def _commit(request: Request) -> None:
    session = request_session(request)
    if session is not None:
        await session.commit()


async def _handle_and_commit(
    handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    try:
        response = await handler(request)
    except AppError as exc:
        if exc.persist_changes:
            await _commit(request)
        raise
    await _commit(request)
    return response


def _database_failure_answer(exc: Exception) -> AppError | None:
    """The client's answer to a database failure, or None for a bug (a 500).

    The one place where database failures become answers: ``handler`` covers the endpoint and
    its dependencies (the session, the caller's authentication), and the commit is awaited here
    too, so a failure anywhere in a request is seen by this function.
    """
    if is_database_unavailable(exc):
        return ServiceUnavailable("the database is unavailable; try again shortly")
    if sqlstate_of(exc) == CHARACTER_NOT_IN_REPERTOIRE:
        return BadRequest(UNSTORABLE_TEXT)
    return None


def body_limit(limit: BodyLimit) -> Callable[[Endpoint], Endpoint]:
    """Give an endpoint its own request body cap, computed from the app's settings on each
    request, so an app built with other settings than the environment's applies its own."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _BODY_LIMIT_ATTRIBUTE, limit)
        return endpoint

    return mark


def _json_body_limit(settings: Settings) -> int:
    return settings.max_json_body_bytes


class LedgerlineRoute(APIRoute):
    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        max_body_size: int | None = None,
        **kw: Any,
    ) -> None:
        if max_body_size is not None:
            raise TypeError("limit a body with @body_limit, which reads the app's settings")
        self.body_limit: BodyLimit = getattr(endpoint, _BODY_LIMIT_ATTRIBUTE, _json_body_limit)
        super().__init__(path, endpoint, max_body_size=None, **kw)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None
        takes_json_body = self.body_field is not None and not isinstance(
            self.body_field.field_info, params.Form
        )

        async def route_handler(request: Request) -> Response:
            receive = request.receive
            if takes_body and request.method in _BODY_METHODS:
                limit = self.body_limit(request.app.state.settings)
                if (_declared_length(request) or 0) > limit:
                    raise HTTPException(413)
                receive = _limited(receive, limit)
            request = ExactJSONRequest(request.scope, receive)
            if takes_json_body and request.method in _BODY_METHODS:
                content_type = request.headers.get("content-type")
                if content_type is None and _has_body(request):
                    raise UnsupportedMediaType("this endpoint takes application/json")
                if content_type is not None and not _is_json_media_type(content_type):
                    raise UnsupportedMediaType("this endpoint takes application/json")
            try:
                return await _handle_and_commit(handler, request)
            except AppError:
                raise
            except Exception as exc:
                answer = _database_failure_answer(exc)
                if answer is None:
                    raise
                raise answer from exc

        return route_handler
