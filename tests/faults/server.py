"""A real ``ledgerline serve`` process for the fault tests, and a blocking client of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ADMIN_EMAIL = "faults-admin@example.com"
ADMIN_PASSWORD = "Faults-Admin-Passphrase-2026!"
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``ledgerline serve`` on a free port with the given settings; its output goes to a file."""

    def __init__(self, settings: Mapping[str, str], log_path: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLINE_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            {
                "LEDGERLINE_ADMIN_EMAIL": ADMIN_EMAIL,
                "LEDGERLINE_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "LEDGERLINE_SECRET_KEY": "fault-tests-secret-key-long-enough-for-hs256",
                "LEDGERLINE_PASSWORD_HASH_TIME_COST": "1",
                "LEDGERLINE_PASSWORD_HASH_MEMORY_KIB": "1024",
                "LEDGERLINE_LOG_LEVEL": "WARNING",
                **settings,
            }
        )
        command = [sys.executable, "-m", "ledgerline", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--workers", str(workers)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def client(self) -> httpx.Client:
        """A client that never waits long: a hang shows up as a timeout error."""
        return httpx.Client(base_url=self.base_url, timeout=15)

    def login(self, client: httpx.Client) -> dict[str, str]:
        response = client.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}
