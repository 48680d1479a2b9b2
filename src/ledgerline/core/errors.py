"""Errors as a small hierarchy, each rendered as RFC 9457 problem details by one set of handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ledgerline.core.context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class AppError(Exception):
    """A failure a client can act on. Services raise these; one handler renders them."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    persist_changes: ClassVar[bool] = False
    """Commit before answering (a security reaction such as revoking a login must stick)."""

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        """Members added to the problem body (e.g. an import's row report)."""


class BadRequest(AppError):
    status = 400
    title = "Bad request"


class Unauthorized(AppError):
    status = 401
    title = "Not authenticated"

    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class NotFound(AppError):
    status = 404
    title = "Not found"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    title = "Precondition failed"


class ContentTooLarge(AppError):
    status = 413
    title = "Content too large"


class UnsupportedMediaType(AppError):
    status = 415
    title = "Unsupported media type"


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status = 503
    title = "Service unavailable"

    def __init__(
        self, detail: str, *, retry_after: int = 5, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, extra=extra)


class ValidationFailed(AppError):
    status = 422
    title = "Validation failed"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def field_name(loc: Sequence[int | str]) -> str:
    """``("body", "amount")`` -> ``amount``; ``("query", "limit")`` -> ``query.limit``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:] or ["body"]
    return ".".join(parts)


def _clean_message(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(field_name(err.get("loc", ())), _clean_message(str(err.get("msg", "invalid"))))
        for err in exc.errors()
    ]


def _malformed_body_reason(exc: RequestValidationError) -> str | None:
    """What the JSON parser said about a body it could not read; None when it read it."""
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return str((err.get("ctx") or {}).get("error") or "malformed")
    return None


async def _app_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        errors=exc.errors if isinstance(exc, ValidationFailed) else None,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _request_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    reason = _malformed_body_reason(exc)
    if reason is not None:
        return problem_response(
            400, f"request body is not valid JSON: {reason}", title="Malformed body"
        )
    errors = validation_errors(exc)
    return problem_response(
        422,
        "; ".join(f"{e.field}: {e.message}" for e in errors),
        title="Validation failed",
        errors=errors,
    )


def allowed_methods(request: Request) -> str:
    """Every method the path answers to; the router names only those of the first route found.
    ``HEAD`` goes with ``GET`` (``core.protocol.HeadAsGet``)."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        regex = getattr(context, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(context.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = "no such resource"
    elif exc.status_code == 405:
        detail = "method not allowed on this resource"
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    elif exc.status_code == 413:
        detail = "request body is larger than this endpoint accepts"
    return problem_response(exc.status_code, detail, headers=headers)


def internal_error_response() -> Response:
    """The 500 answer: the request id to quote, nothing internal."""
    return problem_response(
        500,
        "an unexpected error occurred; quote the request id when reporting it",
        extra={"request_id": current_request_id()},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
