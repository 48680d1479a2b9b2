"""Smoke test of a running Ledgerline: sign in, create a record, read the dashboard.

    python3 docker/smoke_test.py create BASE_URL EMAIL PASSWORD   # prints the record id
    python3 docker/smoke_test.py verify BASE_URL EMAIL PASSWORD RECORD_ID

Standard library only, so it runs with any Python 3.11 beside a container stack.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

API = "/api/v1"


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    request = urllib.request.Request(f"{base}{path}", method=method)  # noqa: S310 - our own URL
    request.add_header("Accept", "application/json")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"smoke test: {method} {path} answered {exc.code}: {exc.read()!r}") from None


def wait_ready(base: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke test: {base}/readyz not ready within {seconds:.0f} s")
        time.sleep(2)


def sign_in(base: str, email: str, password: str) -> tuple[str, str]:
    """The access token and the id of the signed-in user's first org."""
    tokens = call(base, "POST", f"{API}/auth/login", {"email": email, "password": password})
    token = tokens["access_token"]
    orgs = call(base, "GET", f"{API}/orgs", token=token)
    if not orgs:
        raise SystemExit("smoke test: the admin belongs to no org")
    print(f"signed in as {email}; org {orgs[0]['id']} ({orgs[0]['name']})")
    return token, orgs[0]["id"]


def dashboard(base: str, token: str, org_id: str) -> dict[str, Any]:
    summary: dict[str, Any] = call(
        base, "GET", f"{API}/orgs/{org_id}/dashboard/summary", token=token
    )
    print(
        f"dashboard: {summary['record_count']} record(s), income {summary['total_income']} "
        f"{summary['currency']}, expense {summary['total_expense']}"
    )
    return summary


def create(base: str, email: str, password: str) -> None:
    wait_ready(base)
    token, org_id = sign_in(base, email, password)
    before = dashboard(base, token, org_id)
    record = call(
        base,
        "POST",
        f"{API}/orgs/{org_id}/records",
        {
            "type": "income",
            "amount": "1234.56",
            "category": "Smoke test",
            "date": time.strftime("%Y-%m-%d"),
            "notes": "written by docker/smoke_test.py",
        },
        token=token,
    )
    print(f"created record {record['id']}: {record['amount']} {record['currency']}")
    after = dashboard(base, token, org_id)
    if after["record_count"] != before["record_count"] + 1:
        raise SystemExit("smoke test: the dashboard did not count the new record")
    print(f"RECORD_ID={record['id']}")


def verify(base: str, email: str, password: str, record_id: str) -> None:
    wait_ready(base)
    token, org_id = sign_in(base, email, password)
    record = call(base, "GET", f"{API}/orgs/{org_id}/records/{record_id}", token=token)
    if record["amount"] != "1234.56" or record["category"] != "Smoke test":
        raise SystemExit(f"smoke test: record {record_id} came back as {record}")
    print(f"record {record_id} still there after the restart: {record['amount']}")
    if dashboard(base, token, org_id)["record_count"] < 1:
        raise SystemExit("smoke test: the dashboard lost the record")


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["create", base, email, password]:
            create(base, email, password)
        case ["verify", base, email, password, record_id]:
            verify(base, email, password, record_id)
        case _:
            raise SystemExit(__doc__)
