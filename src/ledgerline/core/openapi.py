"""OpenAPI helpers: every status an operation can answer is declared with the problem shape."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

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
