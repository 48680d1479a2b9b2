"""The route class every endpoint uses: exact JSON numbers, content-type checks, one commit.

Each request is one transaction. Services flush and never commit; this route class commits after
the endpoint returns and *before* the response is sent, so a client is never told 2xx for a change
that failed to commit, then closes the request's session. (A ``one_statement_write``'s session on
PostgreSQL runs each statement as a transaction of its own until its service asks for one: what
it writes in one statement is that one transaction.) (Since FastAPI 0.118 the code after
``yield`` in a dependency runs after the response has gone out, which is too late for a commit;
and a dependency that yields costs more to solve than one that returns.)

Request bodies are limited here too (``max_json_body_bytes``, or an endpoint's own
``body_limit``) rather than by FastAPI's limiter, which answers an oversized body with a
plain-text 413 that no exception handler can turn into a problem document.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from fastapi import Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import Message, Receive

from ledgerline.core.config import Settings
from ledgerline.core.db import has_nothing_to_commit
from ledgerline.core.errors import (
    AppError,
    BadRequest,
    Conflict,
    FieldError,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from ledgerline.core.faults import is_database_unavailable, sqlstate_of
from ledgerline.core.observability import error_log

SESSION_SCOPE_KEY = "ledgerline.session"
"""Where the request's session is kept: in its ASGI scope, which is the request's own (its
``state`` is a copy of the app's only if the server makes one, as the ASGI spec asks)."""
CLOSED_AFTER_SENDING = "ledgerline_closed_after_sending"
"""Session info key: the session serves a streamed answer and is closed once it is sent."""
BodyLimit = Callable[[Settings], int]
_BODY_LIMIT_ATTRIBUTE = "__ledgerline_body_limit__"
_ONE_STATEMENT_ATTRIBUTE = "__ledgerline_one_statement_write__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CHARACTER_NOT_IN_REPERTOIRE = "22021"
UNSTORABLE_TEXT = "the request holds text with a NUL character, which cannot be stored or searched"
"""Where text from a request reaches PostgreSQL unchecked: the schemas refuse control characters
in every text field they know of, so this answers for one they missed, rather than a 500."""


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; a key given twice is malformed input (RFC 8259 leaves its meaning
    open, and "last one wins" would let two readers of one body see different requests)."""
    members = dict(pairs)
    if len(members) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        repeated = next(key for key, count in counts.items() if count > 1)
        raise json.JSONDecodeError(f"the key {json.dumps(repeated)} is repeated", "", 0)
    return members


class ExactJSONRequest(Request):
    """Reads JSON numbers from their text as ``Decimal``, never through a binary float, and
    refuses objects with a repeated key."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = json.loads(
                body,
                parse_float=Decimal,
                parse_constant=_reject_constant,
                object_pairs_hook=_object_without_repeated_keys,
            )
        return self._json


JSON_MEDIA_TYPE = "application/json"
MULTIPART_MEDIA_TYPE = "multipart/form-data"
URLENCODED_MEDIA_TYPE = "application/x-www-form-urlencoded"


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_accepted(media_type: str, accepted: tuple[str, ...]) -> bool:
    if JSON_MEDIA_TYPE in accepted and media_type.endswith("+json"):
        return True
    return media_type in accepted


def _accepted_media_types(route: APIRoute) -> tuple[str, ...]:
    """What the route's body may be sent as: JSON, a form, or (with a file part) multipart."""
    if route.body_field is None or not isinstance(route.body_field.field_info, params.Form):
        return (JSON_MEDIA_TYPE,)
    if any(isinstance(param.field_info, params.File) for param in route.dependant.body_params):
        return (MULTIPART_MEDIA_TYPE,)
    return (URLENCODED_MEDIA_TYPE, MULTIPART_MEDIA_TYPE)


def _check_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    """415 for a body in another media type than the route reads, or in none: read as
    something else it would only fail validation, or (a form) look empty."""
    content_type = request.headers.get("content-type")
    if (content_type is None and _has_body(request)) or (
        content_type is not None and not _is_accepted(_media_type(content_type), accepted)
    ):
        raise UnsupportedMediaType(f"this endpoint takes {' or '.join(accepted)}")


def _is_repeatable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_is_repeatable(member) for member in get_args(annotation))
    return origin in (list, tuple, set, frozenset, Sequence)


def _single_form_fields(route: APIRoute) -> frozenset[str]:
    """The form fields (file parts included) the route reads one value of."""
    if route.body_field is None or not isinstance(route.body_field.field_info, params.Form):
        return frozenset()
    return frozenset(
        param.alias
        for param in route.dependant.body_params
        if not _is_repeatable(param.field_info.annotation)
    )


async def _refuse_repeated_fields(request: Request, single: frozenset[str]) -> None:
    """422 for a form field sent twice that the route reads once: the form parser would keep
    one of them and drop the other without a word (a second ``file`` part, say)."""
    form = await request.form()
    repeated = sorted(name for name in single if len(form.getlist(name)) > 1)
    if repeated:
        await form.close()
        raise ValidationFailed(
            [FieldError(name, "must be sent once, not repeated") for name in repeated]
        )


def _takes_json_object(route: APIRoute) -> bool:
    """Whether the route's body is one JSON object (a pydantic model), not a form or a list."""
    if route.body_field is None or isinstance(route.body_field.field_info, params.Form):
        return False
    annotation = route.body_field.field_info.annotation
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


async def _refuse_non_object(request: Request) -> None:
    """422 for a JSON body that is no object: FastAPI takes a falsy one (``0``, ``""``,
    ``false``) for an absent body, so a model whose fields are all optional would accept it."""
    if not _has_body(request):
        return
    try:
        body = await request.json()
    except ValueError:
        return  # FastAPI answers malformed JSON itself (400)
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])


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
    session = request.scope.get(SESSION_SCOPE_KEY)
    return session if isinstance(session, AsyncSession) else None


async def _commit(request: Request) -> None:
    session = request_session(request)
    if session is not None and not has_nothing_to_commit(session):
        await session.commit()


async def _close(request: Request) -> None:
    """Give the session's connection back as soon as the request is done with it, unless the
    answer streams from it (``get_streaming_session`` closes that one once it is sent).

    A close that fails (it rolls back what an error left open, on a connection that may have
    died meanwhile) is logged and changes nothing of the answer: the request's outcome is
    decided, and SQLAlchemy has invalidated the connection.
    """
    session = request_session(request)
    if session is None or session.info.get(CLOSED_AFTER_SENDING):
        return
    try:
        await session.close()
    except Exception:
        error_log.warning("closing the request's session failed", exc_info=True)


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


LOST_RACE_SQLSTATES = frozenset({"40P01", "40001"})
"""PostgreSQL's deadlock_detected and serialization_failure: the database rolled the transaction
back because a concurrent one won; nothing of the request was kept. Services take their locks in
one order so that this should not happen; this is the net for a path that does not."""
LOST_RACE = "a concurrent change won; nothing was changed, try again"


def _database_failure_answer(exc: Exception) -> AppError | None:
    """The client's answer to a database failure, or None for a bug (a 500).

    The one place where database failures become answers: ``handler`` covers the endpoint and
    its dependencies (the session, the caller's authentication), and the commit is awaited here
    too, so a failure anywhere in a request is seen by this function.
    """
    if is_database_unavailable(exc):
        return ServiceUnavailable("the database is unavailable; try again shortly")
    sqlstate = sqlstate_of(exc)
    if sqlstate in LOST_RACE_SQLSTATES:
        return Conflict(LOST_RACE)
    if sqlstate == CHARACTER_NOT_IN_REPERTOIRE:
        return BadRequest(UNSTORABLE_TEXT)
    return None


def body_limit(limit: BodyLimit) -> Callable[[Endpoint], Endpoint]:
    """Give an endpoint its own request body cap, computed from the app's settings on each
    request, so an app built with other settings than the environment's applies its own."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _BODY_LIMIT_ATTRIBUTE, limit)
        return endpoint

    return mark


def one_statement_write(endpoint: Endpoint) -> Endpoint:
    """Mark a write endpoint whose service usually writes in one statement, and opens a
    transaction itself (``begin_writing``) before it writes more: on PostgreSQL its session runs
    statement by statement, each statement a transaction of its own, which saves the
    ``BEGIN`` and ``COMMIT`` round trips (``Database.one_statement_sessions``)."""
    setattr(endpoint, _ONE_STATEMENT_ATTRIBUTE, True)
    return endpoint


def writes_in_one_statement(request: Request) -> bool:
    """Whether the request's endpoint is a ``one_statement_write``."""
    return getattr(request.scope.get("endpoint"), _ONE_STATEMENT_ATTRIBUTE, False) is True


def _json_body_limit(settings: Settings) -> int:
    return settings.max_json_body_bytes


_PATH_PARAMETER = re.compile(r"{(\w+)}")


def _typed_path(path: str, uuid_parameters: set[str]) -> str:
    """``path`` with the uuid converter on ``uuid_parameters``: ``/records/{record_id:uuid}``."""
    return _PATH_PARAMETER.sub(
        lambda match: f"{{{match[1]}:uuid}}" if match[1] in uuid_parameters else match[0], path
    )


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
        self._match_only_uuids()

    def _match_only_uuids(self) -> None:
        """Path parameters declared as UUIDs (by the endpoint or its dependencies) match only
        UUIDs, so a literal sibling such as ``/records/export`` is never taken for
        ``/records/{record_id}``: its missing methods answer 405, and a path that holds no UUID
        where one belongs is an unknown resource (404)."""
        uuid_parameters = {
            param.name
            for param in get_flat_params(self.dependant)
            if isinstance(param.field_info, params.Path)
            and param.field_info.annotation is uuid.UUID
        }
        if uuid_parameters:
            self.path = _typed_path(self.path, uuid_parameters)
            self.path_regex, self.path_format, self.param_convertors = compile_path(self.path)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None
        accepted_media_types = _accepted_media_types(self)
        single_form_fields = _single_form_fields(self)
        takes_json_object = _takes_json_object(self)

        async def route_handler(request: Request) -> Response:
            receive = request.receive
            if takes_body and request.method in _BODY_METHODS:
                limit = self.body_limit(request.app.state.settings)
                if (_declared_length(request) or 0) > limit:
                    raise HTTPException(413)
                receive = _limited(receive, limit)
            request = ExactJSONRequest(request.scope, receive)
            if takes_body and request.method in _BODY_METHODS:
                _check_media_type(request, accepted_media_types)
                if single_form_fields:
                    await _refuse_repeated_fields(request, single_form_fields)
                if takes_json_object:
                    await _refuse_non_object(request)
            try:
                return await _handle_and_commit(handler, request)
            except AppError:
                raise
            except Exception as exc:
                answer = _database_failure_answer(exc)
                if answer is None:
                    raise
                raise answer from exc
            finally:
                await _close(request)

        return route_handler
