"""One Jinja2 environment (autoescaped), its filters, and the page renderer with its headers."""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledgerline.core.context import current_request_id
from ledgerline.web import formatting

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

_locale: ContextVar[str] = ContextVar("page_locale", default=formatting.DEFAULT_LOCALE)
"""The reader's locale while a page renders, so macros format money without passing it."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Vary": "HX-Request, Accept-Language, Cookie",
}


def _money(amount: str | Decimal | int, currency: str) -> str:
    return formatting.money(amount, currency, _locale.get())


def _number(value: int | str | Decimal) -> str:
    return formatting.number(value, _locale.get())


def _day(value: dt.date | None) -> str:
    return "" if value is None else formatting.day(value, _locale.get())


def _moment(value: dt.datetime | None) -> str:
    return "" if value is None else formatting.moment(value, _locale.get())


def _is_zero_amount(amount: str | Decimal | int) -> bool:
    """A template test (``difference is zero_amount``), exact: money is never a float."""
    return Decimal(amount) == 0


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(money=_money, number=_number, day=_day, moment=_moment)
    environment.tests["zero_amount"] = _is_zero_amount
    return environment


environment = _environment()


def is_htmx(request: Request) -> bool:
    """An htmx request that wants only the part of the page it swaps (not a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    name: str,
    values: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` with the page's common values and the security headers every page has."""
    locale = formatting.locale_for(request.headers.get("accept-language"))
    _locale.set(locale)
    page = {
        "request": request,
        "locale": locale,
        "request_id": current_request_id(),
        **values,
    }
    body = environment.get_template(name).render(page)
    return HTMLResponse(body, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
