"""What ``ledgerline serve`` settles before uvicorn starts several worker processes."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ledgerline.core.config import Settings
from ledgerline.core.observability import MULTIPROCESS_DIRECTORY

PER_PROCESS_LIMITS = (
    "ledgerline: {workers} worker processes and no LEDGERLINE_REDIS_URL: rate limits are per "
    "process, each worker allowing the full limit (idempotency keys are in the database, shared); "
    "set LEDGERLINE_REDIS_URL to share the limits"
)


def prepare_worker_processes(settings: Settings, workers: int) -> None:
    """Say on stderr that the limits are per process when they are, and give the workers one
    metrics directory (before any of them imports prometheus-client), so that a scrape of any
    worker sums them all."""
    if workers <= 1:
        return
    if settings.redis_url is None:
        print(PER_PROCESS_LIMITS.format(workers=workers), file=sys.stderr)
    _share_metrics_directory()


def _share_metrics_directory() -> None:
    """The operator's ``PROMETHEUS_MULTIPROC_DIR``, emptied of a former run's files (the
    library's rule), or a temporary one removed when ``serve`` exits."""
    configured = os.environ.get(MULTIPROCESS_DIRECTORY)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return
    created = tempfile.mkdtemp(prefix="ledgerline-metrics-")
    os.environ[MULTIPROCESS_DIRECTORY] = created
    atexit.register(shutil.rmtree, created, ignore_errors=True)
