"""Every operation of the OpenAPI document, fed requests generated from it by schemathesis, valid
and invalid, and judged by every check schemathesis has: no answer is a 5xx, every answer is one
the document describes (status, content type, body, headers), data the document calls valid is
accepted and data it calls invalid refused, authentication is enforced where it is declared,
and methods the document does not list answer 405 with an ``Allow`` header.

The app runs as a real server (uvicorn, in a thread, on the suite's database), because some
checks send requests of their own: the same case without credentials, say. The requests come
signed in as the org's admin, aimed at the org (or another org, or an id no org has), and at one
of its records and members or at ids nothing has, so they get past authentication and reach the
validation and services behind it. Generation is derandomized, so every run sends the same
requests; raise ``max_examples`` locally to look further.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, MutableMapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import GenerationConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.schemas import APIOperation

from ledgerline.app import create_app
from ledgerline.auth.passwords import password_problem
from ledgerline.core.money import MoneyError, parse_amount
from ledgerline.dashboard import periods
from ledgerline.dashboard.schemas import Granularity
from ledgerline.imports_exports.statements import CsvMapping
from tests.conftest import make_settings
from tests.factories import PASSWORD, World
from tests.imports_exports.helpers import HEADER, csv_bytes
from tests.imports_exports.statements.helpers import example
from tests.records.helpers import create_record, record_body

SCHEMA = schemathesis.openapi.from_dict(create_app(make_settings("sqlite://")).openapi())
OPERATIONS = {
    f"{operation.method.upper()} {operation.path}": operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
}
load_all_checks()
ALL_CHECKS = [check for check in CHECKS.get_all() if not isinstance(check, type)]
"""Every check schemathesis registers (``--checks all``), unsupported_method, ignored_auth and
positive/negative data among them; max_response_time needs a limit and judges no behaviour."""
RECORD_DAY = str(record_body()["date"])
EMAIL = TypeAdapter(EmailStr)
VALID_CSV = csv_bytes(HEADER, "2026-03-01,expense,Food,1.00,,,").decode()
VALID_OFX = example("ofx-1.02-sgml.ofx").decode()
VALID_MAPPING: dict[str, Any] = {
    "date_column": "Date",
    "date_format": "YYYY-MM-DD",
    "amount_column": "Amount",
    "description_columns": ["Description"],
}
BANK_CSV = "Date,Description,Amount\n2026-03-01,Coffee,-3.50\n2026-03-02,Salary,1200.00\n"


@pytest.fixture(scope="session")
def server_url(database_url: str) -> Iterator[str]:
    """The app served over HTTP on the suite's database, for the whole run of one backend."""
    config = uvicorn.Config(
        create_app(make_settings(database_url)),
        host="127.0.0.1",
        port=0,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _targets(
    world: World, record_id: str, refs: dict[str, str], data: st.DataObject, path: str
) -> dict[str, str]:
    """Path parameters aimed at real things most of the time, at others the rest. The ids
    added later are drawn only where the path has them, so the requests generated for the
    other operations stay the ones they were."""
    unknown = str(data.draw(st.uuids(), label="unknown id"))
    later = {
        name: data.draw(st.sampled_from([refs[name]] * 3 + [unknown]), label=name)
        for name in ("profile_id", "rule_id")
        if f"{{{name}}}" in path
    }
    return later | {
        "account_id": data.draw(
            st.sampled_from([refs["account_id"]] * 3 + [unknown]), label="account_id"
        ),
        "transfer_id": data.draw(
            st.sampled_from([refs["transfer_id"]] * 3 + [unknown]), label="transfer_id"
        ),
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


@pytest.fixture
async def refs(client: httpx.AsyncClient, world: World, record_id: str) -> dict[str, str]:
    """Real things of the org a body or a path may name: the record's (default, USD) account,
    a second USD account, and a transfer between them."""
    org = f"/orgs/{world.org_id}"
    record = (await client.get(f"{org}/records/{record_id}", headers=world.admin.headers)).json()
    savings = await client.post(
        f"{org}/accounts", json={"name": "Savings", "kind": "savings"}, headers=world.admin.headers
    )
    assert savings.status_code == 201, savings.text
    transfer = await client.post(
        f"{org}/transfers",
        json={
            "from_account_id": record["account_id"],
            "to_account_id": savings.json()["id"],
            "amount": "5.00",
            "date": RECORD_DAY,
        },
        headers=world.admin.headers,
    )
    assert transfer.status_code == 201, transfer.text
    profile = await client.post(
        f"{org}/import-profiles",
        json={"name": "My bank", "mapping": VALID_MAPPING},
        headers=world.admin.headers,
    )
    assert profile.status_code == 201, profile.text
    rule = await client.post(
        f"{org}/category-rules",
        json={"match": "contains", "pattern": "coffee", "category": "Food"},
        headers=world.admin.headers,
    )
    assert rule.status_code == 201, rule.text
    return {
        "account_id": str(record["account_id"]),
        "other_account_id": str(savings.json()["id"]),
        "transfer_id": str(transfer.json()["id"]),
        "profile_id": str(profile.json()["id"]),
        "rule_id": str(rule.json()["id"]),
    }


def _in_path(operation: APIOperation, values: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if f"{{{key}}}" in operation.path}


class DocumentedRules:
    """Rules of docs/api.md that JSON Schema cannot state (one field against another, or
    against state the server holds). A positive case breaking one is rightly refused, so it is
    repaired where a valid value is obvious, or else dropped: what positive-data acceptance
    checks is everything else the document says."""

    def __init__(self, operation: APIOperation, refs: dict[str, str]) -> None:
        self.operation = operation
        self.refs = refs

    def apply(self, case: schemathesis.Case) -> bool:
        """Repair ``case``; False when it cannot be made valid and is to be dropped."""
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return True
        query = case.query if isinstance(case.query, MutableMapping) else {}
        body = case.body if isinstance(case.body, MutableMapping) else {}
        self._repair_query(query)
        self._repair_headers(case.headers if isinstance(case.headers, MutableMapping) else {})
        if self.operation.path.endswith("/records/import"):
            case.body = {"file": VALID_CSV}
        if self.operation.path.endswith("/statements"):
            # A bank's file in the account's currency (USD); a mapping, profile or source
            # account must name real ones, and an OFX file needs none of them.
            case.body = {"file": VALID_OFX, **_kept(body, "date_format")}
        if self.operation.path.endswith("/import-profiles/suggest"):
            case.body = {"file": BANK_CSV}
        if "/import-profiles" in self.operation.path and "mapping" in body:
            body["mapping"] = _consistent_mapping(body["mapping"])
        self._repair_references(query, body)
        if self.operation.path == "/api/v1/users/me":
            body["current_password"] = PASSWORD  # the admin's, whom the requests sign in as
            if "password" in body:
                body["password"] = PASSWORD  # a new one would make the next case's stale
        return self._body_holds(body) and self._period_count_holds(query)

    def _repair_references(
        self, query: MutableMapping[str, Any], body: MutableMapping[str, Any]
    ) -> None:
        """Accounts named in a body must be the org's and in the record's currency; a
        transfer goes between two of them (both USD, so ``to_amount`` is ``amount``); a
        record's currency alone may change only to one its amount (12.50) fits; closed
        periods move forward only by reconciling."""
        if "account_id" in query and self.operation.method.upper() == "POST":
            query["account_id"] = self.refs["account_id"]
        if "account_id" in body:
            # Into the org's USD account, so in USD; an earlier case may have left the record
            # in another currency, whose amount need not fit USD.
            body["account_id"] = self.refs["account_id"]
            body["currency"] = "USD"
            body.setdefault("amount", "12.50")
        if "from_account_id" in body or "to_account_id" in body:
            body["from_account_id"] = self.refs["account_id"]
            body["to_account_id"] = self.refs["other_account_id"]
            for name in ("currency", "to_currency", "to_amount"):
                body.pop(name, None)
        if self.operation.path.endswith("/transfers/{transfer_id}"):
            body.pop("to_amount", None)
        if (
            self.operation.path.endswith("/records/{record_id}")
            and "currency" in body
            and "amount" not in body
            and not _fits_currency("12.50", body["currency"])
        ):
            del body["currency"]
        if self.operation.path.endswith("/accounts/{account_id}"):
            body.pop("reconciled_through", None)
            body.pop("currency", None)  # refused (409) once the account holds records

    @staticmethod
    def _repair_query(query: MutableMapping[str, Any]) -> None:
        query.pop("cursor", None)  # opaque: only the server makes cursors
        for low, high in (("date_from", "date_to"), ("amount_min", "amount_max")):
            if low in query and high in query and _ordered(query[high]) < _ordered(query[low]):
                query[low], query[high] = query[high], query[low]

    @staticmethod
    def _repair_headers(headers: MutableMapping[str, Any]) -> None:
        for name in [name for name in headers if name.lower() == "if-match"]:
            if str(headers[name]).strip() != "*":
                del headers[name]  # a version it names is stale unless it is the record's

    @staticmethod
    def _body_holds(body: MutableMapping[str, Any]) -> bool:
        email = str(body["email"]) if "email" in body else None
        if "password" in body and password_problem(str(body["password"]), email=email):
            return False  # common, fewer than 3 distinct characters, or the email itself
        if "email" in body and not _deliverable(body["email"]):
            return False  # a special-use domain (.test, .invalid), which email-validator refuses
        currency = body.get("currency") or "USD"  # the org's, and its accounts'
        balances = [body[name] for name in ("opening_balance", "statement_balance") if name in body]
        if not all(_signed_fits_currency(balance, currency) for balance in balances):
            return False
        return "amount" not in body or _fits_currency(body["amount"], currency)

    def _period_count_holds(self, query: MutableMapping[str, Any]) -> bool:
        if not self.operation.path.endswith(("/dashboard/trends", "/balances")):
            return True
        first, last = (
            dt.date.fromisoformat(str(query.get(bound, RECORD_DAY)))
            for bound in ("date_from", "date_to")
        )
        granularity = Granularity(query.get("granularity", "month"))  # balances: the same
        span = periods.period_count(min(first, last), max(first, last), granularity)
        return span <= periods.MAX_PERIODS


def _kept(body: MutableMapping[str, Any], *names: str) -> dict[str, Any]:
    """The named fields with a value: a multipart form has no null (an absent field is one)."""
    return {name: body[name] for name in names if body.get(name) is not None}


def _consistent_mapping(mapping: object) -> object:
    """A mapping's fields depend on each other (one amount source, columns by position without
    a header, separators that differ): one breaking those rules is replaced by a valid one."""
    try:
        CsvMapping.model_validate(mapping)
    except ValidationError:
        return VALID_MAPPING
    return mapping


def _ordered(value: object) -> Decimal | str:
    """A bound as it compares: amounts as decimals, dates (``YYYY-MM-DD``) as text."""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def _deliverable(email: object) -> bool:
    try:
        EMAIL.validate_python(email)
    except ValidationError:
        return False
    return True


def _signed_fits_currency(amount: object, currency: object) -> bool:
    """A balance (may be zero or negative) has no more decimals than the currency."""
    text = str(amount).strip().removeprefix("-")
    return Decimal(text) == 0 or _fits_currency(text, currency)


def _fits_currency(amount: object, currency: object) -> bool:
    """Whether the amount has no more decimals than the currency (JSON numbers as sent)."""
    exact = Decimal(repr(amount)) if isinstance(amount, float) else amount
    try:
        parse_amount(exact, str(currency))
    except MoneyError:
        return False
    return True


@pytest.mark.parametrize("name", list(OPERATIONS))
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_requests_pass_every_check(
    name: str,
    data: st.DataObject,
    world: World,
    record_id: str,
    refs: dict[str, str],
    server_url: str,
) -> None:
    operation: APIOperation = OPERATIONS[name]
    parameters = _in_path(operation, _targets(world, record_id, refs, data, operation.path))
    mode = data.draw(st.sampled_from(list(GenerationMode)), label="mode")
    case = data.draw(operation.as_strategy(mode, path_parameters=parameters), label="case")
    assume(DocumentedRules(operation, refs).apply(case))
    case.call_and_validate(base_url=server_url, headers=world.admin.headers, checks=ALL_CHECKS)


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_coverage_cases_pass_every_check(
    name: str, world: World, record_id: str, refs: dict[str, str], server_url: str
) -> None:
    """The deterministic edge cases schemathesis derives from each operation: every boundary
    of every parameter, each missing required one, methods the path does not list."""
    operation: APIOperation = OPERATIONS[name]
    real = _in_path(
        operation,
        {
            "org_id": str(world.org_id),
            "record_id": record_id,
            "user_id": str(world.analyst.user_id),
            "account_id": refs["account_id"],
            "transfer_id": refs["transfer_id"],
            "profile_id": refs["profile_id"],
            "rule_id": refs["rule_id"],
        },
    )
    SCHEMA.coverage_unexpected_methods_seen.clear()  # else sent on the first backend only
    cases = SCHEMA.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=GenerationConfig()
    )
    rules = DocumentedRules(operation, refs)
    for case in cases:
        if not (case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)):
            case.path_parameters = {**(case.path_parameters or {}), **real}
        if rules.apply(case):
            case.call_and_validate(
                base_url=server_url, headers=world.admin.headers, checks=ALL_CHECKS
            )
