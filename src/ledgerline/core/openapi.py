"""OpenAPI helpers: every status an operation can answer is declared with the problem shape,
and every operation is named after its route function."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi.routing import APIRoute

from ledgerline.core.errors import PROBLEM_MEDIA_TYPE
from ledgerline.core.schemas import Problem


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    """The route function's name (``list_records``), so a generated client reads well;
    FastAPI's default appends the path and method (``list_records_api_v1_orgs__org_id_...``)."""
    return route.name


def check_unique_operation_ids(routes: Iterable[Any]) -> None:
    """Refuse to build an app where two operations share a route function name: their
    operation ids would collide, and a generated client would lose one of them."""
    names = Counter(
        str(route.name)
        for route in routes
        if getattr(route, "methods", None)
        and getattr(route, "include_in_schema", False)
        and getattr(route, "dependant", None) is not None
    )
    repeated = sorted(name for name, count in names.items() if count > 1)
    if repeated:
        raise RuntimeError(f"route functions must have unique names: {', '.join(repeated)}")
