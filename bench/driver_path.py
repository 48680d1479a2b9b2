"""What awaiting PostgreSQL's driver from the event loop (``core/asyncpg_direct.py``) saves a
request, measured in one process with the path on and off alternately.

Two runs of the app in separate processes differ by more than the few tens of microseconds
at stake (memory layout, the database's caches): here one app serves every round, and only
``asyncpg_direct.usable`` changes between them (off: every statement goes through
SQLAlchemy's greenlet and DB-API adapter, as before the driver path). Each figure is this
process's CPU time a request over ``--requests`` bare ASGI calls (``bench.in_process
--asgi``); the rounds' median and spread are printed per request kind and mode.

    .venv/bin/python -m bench.driver_path
    .venv/bin/python -m bench.driver_path --rounds 10 --requests 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Connection

from bench.dashboard import prepare
from bench.in_process import _asgi_calls, app_on, signed_in
from bench.load import CREATE_BODY, fresh_database
from ledgerline.core import asyncpg_direct


def _never(_connection: Connection) -> bool:
    return False


async def measure(url: str, rounds: int, requests: int) -> None:
    app = app_on(url)
    modes: dict[str, Callable[[Connection], bool]] = {
        "driver": asyncpg_direct.usable,
        "SQLAlchemy": _never,
    }
    async with signed_in(app) as (client, org):
        listed = await client.get(f"/orgs/{org}/records", params={"limit": 1})
        record = listed.json()["items"][0]["id"]
        token = client.headers["Authorization"].removeprefix("Bearer ")
        kinds = {
            "create": ("POST", f"/api/v1/orgs/{org}/records", CREATE_BODY),
            "get": ("GET", f"/api/v1/orgs/{org}/records/{record}", None),
            "org": ("GET", f"/api/v1/orgs/{org}", None),
        }
        cpu: dict[tuple[str, str], list[float]] = {}
        try:
            for round_ in range(rounds):
                order = list(modes) if round_ % 2 == 0 else list(reversed(modes))
                for mode in order:
                    asyncpg_direct.usable = modes[mode]  # type: ignore[assignment]
                    for kind, (method, path, body) in kinds.items():
                        seconds, _ = await _asgi_calls(app, method, path, token, body, requests)
                        cpu.setdefault((kind, mode), []).append(seconds * 1e6)
        finally:
            asyncpg_direct.usable = modes["driver"]  # type: ignore[assignment]
    print("| request | mode | CPU us a request, median | rounds' range |")
    print("|---|---|---:|---:|")
    for (kind, mode), figures in cpu.items():
        print(
            f"| {kind} | {mode} | {statistics.median(figures):.0f} "
            f"| {min(figures):.0f}-{max(figures):.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6, help="each mode, alternately")
    parser.add_argument("--requests", type=int, default=400, help="per kind, mode and round")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ledgerline-driver-path-") as tmp,
        fresh_database("postgresql", Path(tmp)) as url,
    ):
        prepare(url, args.records)
        asyncio.run(measure(url, args.rounds, args.requests))


if __name__ == "__main__":
    main()
