"""Every operation of the OpenAPI document, fed requests generated from it by schemathesis, valid
and invalid: no answer is a 5xx, and every answer is one the document describes (its status,
content type, body and headers).

The requests come signed in as the org's admin, aimed at the org (or another org, or an id no
org has), and at one of its records and members or at ids nothing has, so they get past
authentication and reach the validation and services behind it. The examples are derandomized,
so every run sends the same requests; raise ``max_examples`` locally to look further.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledgerline.app import create_app
from tests.conftest import make_settings
from tests.factories import World
from tests.records.helpers import create_record

SCHEMA = schemathesis.openapi.from_dict(create_app(make_settings("sqlite://")).openapi())
OPERATIONS = {
    f"{operation.method.upper()} {operation.path}": operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _httpx_arguments(case: schemathesis.Case) -> dict[str, Any]:
    """The case's request (given in the ``requests`` library's terms) in httpx's."""
    arguments = case.as_transport_kwargs(base_url="http://test")
    arguments.pop("cookies", None)
    data = arguments.pop("data", None)
    if isinstance(data, str | bytes):
        arguments["content"] = data
    elif data is not None:
        arguments["data"] = data
    if arguments.get("files"):
        # A file part drawn as a wrong type (a number, say) goes out as its text, as the
        # requests library would send it; httpx only takes bytes or text.
        arguments["files"] = [
            (field, (file_name, _as_text(content), *rest))
            for field, (file_name, content, *rest) in arguments["files"]
        ]
    return arguments


def _as_text(content: object) -> str | bytes:
    return content if isinstance(content, str | bytes) else str(content)


def _targets(world: World, record_id: str, data: st.DataObject) -> dict[str, str]:
    """Path parameters aimed at real things most of the time, at others the rest."""
    unknown = str(data.draw(st.uuids(), label="unknown id"))
    return {
        "org_id": data.draw(
            st.sampled_from([str(world.org_id)] * 4 + [str(world.outsider_org_id), unknown]),
            label="org_id",
        ),
        "record_id": data.draw(st.sampled_from([record_id] * 3 + [unknown]), label="record_id"),
        "user_id": data.draw(
            st.sampled_from([str(world.analyst.user_id)] * 3 + [unknown]), label="user_id"
        ),
    }


@pytest.fixture
async def record_id(client: httpx.AsyncClient, world: World) -> str:
    record = await create_record(client, org_id=world.org_id, actor=world.admin)
    return str(record["id"])


@pytest.mark.parametrize("name", list(OPERATIONS))
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_requests_get_documented_answers_and_never_a_server_error(
    name: str, data: st.DataObject, app: FastAPI, world: World, record_id: str
) -> None:
    operation: APIOperation = OPERATIONS[name]
    parameters = {
        key: value
        for key, value in _targets(world, record_id, data).items()
        if f"{{{key}}}" in operation.path
    }
    mode = data.draw(st.sampled_from(list(GenerationMode)), label="mode")
    case = data.draw(operation.as_strategy(mode, path_parameters=parameters), label="case")
    headers = {**(case.headers or {}), **world.admin.headers}
    case.headers = headers
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport) as raw:
        request = raw.build_request(**_httpx_arguments(case))
        request.read()  # a multipart body is a stream; the checks read what was sent
        response = await raw.send(request)
    case.validate_response(response, checks=CHECKS)
