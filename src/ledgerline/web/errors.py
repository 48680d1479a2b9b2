"""Errors on web pages: the same error classes as the API, answered as pages in the app's look.

A page route raises what the API would (``NotFound`` for an outsider, ``Forbidden`` for a role
without the permission); ``WebRoute`` turns it into a page with the request id, and an ended
session into a trip to the sign-in page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledgerline.core.errors import AppError, Unauthorized, allowed_methods, validation_errors
from ledgerline.core.routing import LedgerlineRoute
from ledgerline.web.templating import is_htmx, render

error_log = logging.getLogger("ledgerline.error")

NON_WEB_PREFIXES = ("/api/", "/docs", "/redoc", "/healthz", "/readyz", "/metrics", "/static/")


def is_web_path(path: str) -> bool:
    return not path.startswith(NON_WEB_PREFIXES)


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in page, which brings the person back to the page they asked for (a form
    they posted cannot be replayed, so after a post they land on their dashboard)."""
    location = "/login"
    if request.method in ("GET", "HEAD"):
        target = request.url.path
        if request.url.query:
            target += f"?{request.url.query}"
        location += f"?next={quote(target, safe='')}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    title = HTTPStatus(status).phrase
    kept = {k: v for k, v in (headers or {}).items() if k.lower() in {"retry-after", "allow"}}
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
        headers=kept,
    )


def page_for(request: Request, exc: Exception) -> Response:
    """The page answering ``exc``, raised by a page route or its dependencies."""
    if isinstance(exc, Unauthorized):
        return sign_in_redirect(request)
    if isinstance(exc, AppError):
        return error_page(request, exc.status, exc.detail, exc.headers)
    if isinstance(exc, RequestValidationError):
        detail = "; ".join(f"{e.field}: {e.message}" for e in validation_errors(exc))
        return error_page(request, 422, detail)
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            detail = "there is no page at this address"
        elif exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_page(request, exc.status_code, detail, headers)
    error_log.exception("unhandled error on a page")
    return error_page(
        request, 500, "something went wrong on our side; quote the request id when reporting it"
    )


class WebRoute(LedgerlineRoute):
    """``LedgerlineRoute`` (one commit before the answer) whose failures are pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return page_for(request, exc)

        return page_handler


def install_web_error_pages(app: FastAPI) -> None:
    """Paths no route matches (404, 405) answer a page outside the API, problem+json inside."""
    api_handler = app.exception_handlers[StarletteHTTPException]

    async def http_exception(request: Request, exc: Exception) -> Response:
        if is_web_path(request.url.path):
            return page_for(request, exc)
        response = api_handler(request, exc)
        assert not isinstance(response, Response)
        return await response

    app.add_exception_handler(StarletteHTTPException, http_exception)
