"""Reading HTML forms and query strings into the API's schemas, errors keyed by field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, QueryParams

from ledgerline.core.errors import ValidationFailed, field_name

Model = TypeVar("Model", bound=BaseModel)
FieldErrors = dict[str, str]

LIST_FIELDS = frozenset({"category", "account_id"})


def filled(
    pairs: Iterable[tuple[str, object]],
    *,
    skip: frozenset[str] = frozenset(),
    lists: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """Non-empty text values; each field named in ``lists`` becomes a list of its values."""
    values: dict[str, object] = {}
    for key, value in pairs:
        if key in skip or not isinstance(value, str) or not value.strip():
            continue
        if key in lists:
            existing = values.setdefault(key, [])
            assert isinstance(existing, list)
            existing.append(value)
        else:
            values[key] = value
    return values


def form_values(form: FormData) -> dict[str, object]:
    return filled(form.multi_items(), skip=frozenset({"csrf_token"}))


def query_values(params: QueryParams) -> dict[str, object]:
    """Query parameters; ``category`` and ``account_id`` may repeat, as in the API's record
    filters."""
    return filled(params.multi_items(), lists=LIST_FIELDS)


def errors_of(exc: ValidationError | ValidationFailed) -> FieldErrors:
    """The first message for each field, by the API's field names (``amount``, ``date``)."""
    errors: FieldErrors = {}
    if isinstance(exc, ValidationFailed):
        for error in exc.errors:
            errors.setdefault(error.field.removeprefix("query."), error.message)
        return errors
    for item in exc.errors():
        name = field_name(item.get("loc", ())) or "form"
        name = name.split(".", 1)[0] if name.split(".", 1)[0] in LIST_FIELDS else name
        message = str(item.get("msg", "invalid"))
        errors.setdefault(name, message.removeprefix("Value error, "))
    return errors


def parse(model: type[Model], values: dict[str, object]) -> tuple[Model | None, FieldErrors]:
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, errors_of(exc)
