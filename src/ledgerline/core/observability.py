"""Request ids, one structured log line per request, Prometheus metrics, and the last-resort 500."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from typing import Any

import orjson
from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import Engine, Pool, event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerline.core.context import set_request_id
from ledgerline.core.errors import internal_error_response

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
access_log = logging.getLogger("ledgerline.access")
error_log = logging.getLogger("ledgerline.errors")


class JsonFormatter(logging.Formatter):
    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    _TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """The record's second, formatted once for all the lines of that second: every request
        logs a line, and ``localtime`` with ``strftime`` is about a fifth of a line's
        formatting."""
        if datefmt is not None and datefmt != self._TIME_FORMAT:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._stamp = super().formatTime(record, self._TIME_FORMAT)
            self._second = second
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in self._STANDARD)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, *, json_lines: bool) -> None:
    """Ledgerline's lines to stderr, as JSON or plain text.

    Records no longer note the calling source line, thread or process, which neither format
    writes: the logging HOWTO's "Optimization" switches, as every request logs a line."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("ledgerline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""Set before the worker processes start (``ledgerline serve --workers N``): each process writes
its values to files there, and a scrape of any of them sums them all (prometheus-client's
multiprocess mode, chosen by that library when it is imported)."""


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROCESS_DIRECTORY) or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ledgerline_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledgerline_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.pool_in_use = Gauge(
            "ledgerline_db_pool_connections_in_use",
            "Database connections checked out of the pool",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.pool_size = Gauge(
            "ledgerline_db_pool_size",
            "Configured database pool size",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._engines: list[Engine] = []
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request and time it, under its route template. Each label set's child is
        kept at hand, as the registry keeps it anyway: ``labels`` checks and locks on every
        call."""
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[(method, route, status)] = self.requests.labels(
                method, route, str(status)
            )
        counted.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[(method, route)] = self.latency.labels(method, route)
        timed.observe(seconds)

    def observe_pool(self, engine: AsyncEngine) -> None:
        """Count the engine's checked-out connections. One process reads the pools when it is
        scraped, which costs the requests nothing. Several (multiprocess mode) count them as
        they come and go, so every process's figure is current whichever process is scraped:
        the figure is read from the pools at each event, so it cannot drift; a connection being
        checked in still counts then."""
        self._engines.append(engine.sync_engine)
        self.pool_size.set(sum(_pool_figure(e.pool, "size") for e in self._engines))
        if multiprocess_directory() is None:
            self.pool_in_use.set_function(self._pool_use)
            return
        event.listen(engine.sync_engine, "checkout", lambda *_: self._count_pool_use(0))
        event.listen(engine.sync_engine, "checkin", lambda *_: self._count_pool_use(-1))

    def _pool_use(self) -> int:
        return sum(_pool_figure(e.pool, "checkedout") for e in self._engines)

    def _count_pool_use(self, returning: int) -> None:
        self.pool_in_use.set(max(0, self._pool_use() + returning))

    def exposition(self) -> bytes:
        """The text format: of this process, or summed over all of them in multiprocess mode."""
        if multiprocess_directory() is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    @staticmethod
    def forget_this_process() -> None:
        """At shutdown: drop this process's live gauges (its counters stay in the sums)."""
        if multiprocess_directory() is not None:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _pool_figure(pool: Pool, name: str) -> int:
    figure = getattr(pool, name, None)
    return int(figure()) if callable(figure) else 0


class RouteTemplates:
    """The full path template of the route a request matched, for labels and logs.

    ``scope["route"]`` holds the route object as declared, whose path lacks the prefixes of the
    routers including it (FastAPI includes routers lazily); the full template comes from the
    app's route contexts, indexed by route on first use.
    """

    def __init__(self) -> None:
        self._by_route: dict[int, list[tuple[re.Pattern[str], str]]] = {}

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return "unmatched"
        if id(route) not in self._by_route:
            self._index(scope.get("app"))
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        for regex, template in self._by_route.setdefault(id(route), []):
            if regex.match(path):
                return template
        own = getattr(route, "path_format", None) or getattr(route, "path", None)
        return str(own) if own else "unmatched"

    def _index(self, app: Any) -> None:
        index: dict[int, list[tuple[re.Pattern[str], str]]] = {}
        for context in iter_route_contexts(getattr(app, "routes", [])):
            regex = getattr(context, "path_regex", None)
            if regex is not None and context.path_format:
                index.setdefault(id(context.original_route), []).append(
                    (regex, context.path_format)
                )
        self._by_route = index


class RequestContextMiddleware:
    """Outermost middleware: assigns the request id, times the request, logs it, counts it.

    It also turns an unhandled exception into the problem+json 500, so even that answer carries
    ``X-Request-ID``, which Starlette's own error middleware would not add.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error", extra={"request_id": request_id})
            if response_started:
                raise
            await internal_error_response()(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self.route_template(scope)
            method = scope["method"]
            self.metrics.observe_request(method, route, status, elapsed)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
