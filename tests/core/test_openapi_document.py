"""The OpenAPI document says what the server enforces, so generated clients and fuzzers send
valid requests: bounds, patterns, enums and lengths; and operations are named after their
route functions."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from ledgerline.app import create_app
from ledgerline.core.money import ACCEPTED_CURRENCIES, normalize_currency
from ledgerline.core.openapi import check_unique_operation_ids
from tests.conftest import make_settings
from tests.factories import World, error_fields

APP = create_app(make_settings("sqlite://"))
DOCUMENT: dict[str, Any] = APP.openapi()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    ]


def parameter(path: str, method: str, name: str) -> dict[str, Any]:
    parameters = DOCUMENT["paths"][path][method]["parameters"]
    [found] = [p for p in parameters if p["name"].lower() == name.lower()]
    schema: dict[str, Any] = found["schema"]
    return schema


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [option for option in schema.get("anyOf", [schema]) if option != {"type": "null"}]
    [only] = options
    return only


def matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


class TestTags:
    def test_every_operations_tag_is_described_in_reading_order(self) -> None:
        described = [tag["name"] for tag in DOCUMENT["tags"]]
        used = {tag for _method, _path, operation in operations() for tag in operation["tags"]}
        assert used == set(described)
        assert described[:3] == ["operations", "auth", "users"]


class TestOperationIds:
    def test_each_is_its_route_functions_name(self) -> None:
        names = {
            (method.lower(), context.path_format): context.name
            for context in iter_route_contexts(APP.routes)
            if getattr(context, "include_in_schema", False) and context.methods
            for method in context.methods
        }
        for method, path, operation in operations():
            assert operation["operationId"] == names[method, path]
            assert re.fullmatch(r"[a-z][a-z_]*", operation["operationId"])

    def test_they_are_unique(self) -> None:
        ids = [operation["operationId"] for _method, _path, operation in operations()]
        assert len(ids) == len(set(ids))
        assert "list_records" in ids

    def test_an_app_with_two_routes_of_one_name_is_refused(self) -> None:
        async def list_records() -> None:
            """A second ``list_records``."""

        routes = [*iter_route_contexts(APP.routes), APIRoute("/other", list_records)]
        with pytest.raises(RuntimeError, match="list_records"):
            check_unique_operation_ids(routes)


class TestPublishedConstraints:
    @pytest.mark.parametrize(
        ("path", "name"),
        [
            ("/api/v1/orgs/{org_id}/records", "date_from"),
            ("/api/v1/orgs/{org_id}/audit", "date_to"),
            ("/api/v1/orgs/{org_id}/dashboard/trends", "date_from"),
        ],
    )
    def test_dates_are_bounded_to_1900_and_2199(self, path: str, name: str) -> None:
        schema = without_null(parameter(path, "get", name))
        assert schema["format"] == "date"
        assert not {"ge", "le"} & set(schema)
        for day in ("1900-01-01", "2026-02-28", "2199-12-31"):
            assert matches(schema["pattern"], day)
        for day in ("1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31", "2026-13-01"):
            assert not matches(schema["pattern"], day)

    def test_currencies_are_the_accepted_codes(self) -> None:
        for schema in (
            without_null(SCHEMAS["RecordCreate"]["properties"]["currency"]),
            SCHEMAS["OrgCreate"]["properties"]["currency"],
            without_null(parameter("/api/v1/orgs/{org_id}/records", "get", "currency")),
            without_null(parameter("/api/v1/orgs/{org_id}/dashboard/insights", "get", "currency")),
        ):
            assert schema["enum"] == list(ACCEPTED_CURRENCIES)
        assert "USD" in ACCEPTED_CURRENCIES
        assert not {"XXX", "XTS"} & set(ACCEPTED_CURRENCIES)
        assert all(normalize_currency(code) == code for code in ACCEPTED_CURRENCIES)

    @pytest.mark.parametrize("schema_name", ["RegisterRequest", "MeUpdate"])
    def test_new_passwords_are_10_to_128_characters(self, schema_name: str) -> None:
        schema = without_null(SCHEMAS[schema_name]["properties"]["password"])
        assert (schema["minLength"], schema["maxLength"]) == (10, 128)

    def test_login_passwords_are_not_held_to_the_new_password_rule(self) -> None:
        assert SCHEMAS["LoginRequest"]["properties"]["password"]["minLength"] == 1

    @pytest.mark.parametrize(
        ("path", "method", "header", "valid", "invalid"),
        [
            (
                "/api/v1/orgs/{org_id}/records/{record_id}",
                "patch",
                "If-Match",
                ['"3"', 'W/"3"', "*"],
                ["3", '"x"', "null"],
            ),
            (
                "/api/v1/orgs/{org_id}/records/{record_id}",
                "get",
                "If-None-Match",
                ['"3"', 'W/"3", "4"', "*"],
                ["3", "null", '"3";"4"'],
            ),
            (
                "/api/v1/orgs/{org_id}/records",
                "post",
                "Idempotency-Key",
                ["k", "a key with spaces"],
                ["", " lead", "x" * 256, "é"],
            ),
        ],
    )
    def test_header_syntax(
        self, path: str, method: str, header: str, valid: list[str], invalid: list[str]
    ) -> None:
        schema = parameter(path, method, header)
        assert schema["type"] == "string"
        assert all(matches(schema["pattern"], value) for value in valid)
        assert not any(matches(schema["pattern"], value) for value in invalid)

    def test_text_refuses_control_characters_and_names_blank_ones(self) -> None:
        notes = without_null(SCHEMAS["RecordCreate"]["properties"]["notes"])["pattern"]
        category = SCHEMAS["RecordCreate"]["properties"]["category"]["pattern"]
        for pattern in (notes, category):
            assert matches(pattern, "Rent\tand\nmore")
            assert not any(matches(pattern, f"a{c}b") for c in ("\x00", "\x1b", "\x7f", "\x85"))
        assert matches(notes, "   ")
        assert not matches(category, "   ")
        assert SCHEMAS["OrgCreate"]["properties"]["name"]["pattern"] == category

    def test_record_update_fields_are_not_nullable_except_notes(self) -> None:
        properties = SCHEMAS["RecordUpdate"]["properties"]
        for name in ("amount", "type", "category", "date", "currency"):
            assert {"type": "null"} not in properties[name].get("anyOf", []), name
        assert {"type": "null"} in properties["notes"]["anyOf"]


class TestTheServerHoldsToThePublishedTypes:
    @pytest.mark.parametrize("value", [0, 1, "true", "false", "yes"])
    async def test_a_members_is_active_takes_only_true_or_false(
        self, client: httpx.AsyncClient, world: World, value: object
    ) -> None:
        response = await client.patch(
            f"/orgs/{world.org_id}/members/{world.analyst.user_id}",
            json={"is_active": value},
            headers=world.admin.headers,
        )
        assert error_fields(response) == {"is_active"}
