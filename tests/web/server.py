"""A real Ledgerline server process for the browser tests, and people and orgs to sign in as."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ledgerline.auth.passwords import PasswordHasher
from ledgerline.core.db import Database
from ledgerline.orgs import service as orgs_service
from ledgerline.orgs.models import Org
from ledgerline.orgs.permissions import Role
from ledgerline.users import service as users_service
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, unique_email

STARTUP_SECONDS = 30
WEB_IMPORT_JOB_BYTES = 20_000
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LEDGERLINE_DATABASE_URL": database_url,
        "LEDGERLINE_AUTO_MIGRATE": "true",
        "LEDGERLINE_SECRET_KEY": TEST_SECRET,
        "LEDGERLINE_PASSWORD_HASH_TIME_COST": "1",
        "LEDGERLINE_PASSWORD_HASH_MEMORY_KIB": "1024",
        "LEDGERLINE_LOG_LEVEL": "WARNING",
        "LEDGERLINE_LOG_JSON": "false",
        "LEDGERLINE_ADMIN_EMAIL": "first-admin@example.com",
        "LEDGERLINE_ADMIN_PASSWORD": PASSWORD,
        # Files over 20 kB run as import jobs on the import page: a test makes one of ~100 kB.
        "LEDGERLINE_WEB_IMPORT_JOB_BYTES": str(WEB_IMPORT_JOB_BYTES),
    }


@contextmanager
def running_server(database_url: str, log_file: Path) -> Iterator[str]:
    """``ledgerline serve`` on a free port; its base URL once it answers."""
    port = free_port()
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "ledgerline", "serve", "--port", str(port)],
            env=server_environment(database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(base_url, process, log_file)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log_file.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start: {log_file.read_text()[-2000:]}")


@dataclass(frozen=True)
class People:
    """An org of its own for one test, with one person per role and an outsider."""

    org_id: uuid.UUID
    admin: str
    analyst: str
    viewer: str
    outsider: str

    def email(self, role: Role) -> str:
        return {Role.ADMIN: self.admin, Role.ANALYST: self.analyst, Role.VIEWER: self.viewer}[role]


async def _make_people(database_url: str, org_name: str) -> People:
    database = Database(database_url)
    hasher = PasswordHasher(time_cost=1, memory_kib=1024)
    try:
        async with database.sessions() as session:
            users = {}
            for label in ("admin", "analyst", "viewer", "outsider"):
                users[label] = await users_service.create_user(
                    session,
                    hasher,
                    email=unique_email(label),
                    password=PASSWORD,
                    full_name=f"{label.capitalize()} Person",
                )
            org = Org(name=org_name, currency="USD")
            session.add(org)
            await session.flush()
            for label, role in (
                ("admin", Role.ADMIN),
                ("analyst", Role.ANALYST),
                ("viewer", Role.VIEWER),
            ):
                await orgs_service.add_membership(
                    session, org_id=org.id, user_id=users[label].id, role=role
                )
            people = People(
                org_id=org.id,
                admin=users["admin"].email,
                analyst=users["analyst"].email,
                viewer=users["viewer"].email,
                outsider=users["outsider"].email,
            )
            await session.commit()
            return people
    finally:
        await database.dispose()


def in_a_thread(work: Callable[[], T]) -> T:
    """Run ``work`` in a thread of its own: the helpers that make PostgreSQL databases call
    ``asyncio.run``, which refuses to start inside the test run's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


async def make_people(database_url: str, org_name: str = "Acme") -> People:
    return await _make_people(database_url, org_name)
