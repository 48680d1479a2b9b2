# Two commands for a newcomer: `make run` and `make test`. Both set up .venv themselves:
# `make run` with what serving needs, `make test` with the development tools as well.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
SERVE_STAMP := $(VENV)/.serve-stamp
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
ARGS ?= --help

.PHONY: run cli test lint types suite format lock bench docker-test clean vendor screenshots

$(BIN)/python:
	@echo "==> creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade "pip>=24"

# What serving needs: the package and its runtime dependencies, pinned by requirements.lock.
$(SERVE_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	@echo "==> installing Ledgerline and its runtime dependencies (pinned by requirements.lock)"
	@$(PIP) install --quiet -c requirements.lock -e .
	@touch $(SERVE_STAMP)

# Everything, test and lint tools included (the `[dev]` extra).
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	@echo "==> installing Ledgerline with the development tools (pytest, mypy, ruff, schemathesis)"
	@$(PIP) install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP) $(SERVE_STAMP)

## Serve the API on an embedded SQLite file (migrated, first admin created). DEMO=1 loads demo data.
run: $(SERVE_STAMP)
	@echo "==> serving on http://$(HOST):$(PORT) (Ctrl-C stops; the command line is $(BIN)/ledgerline)"
	$(BIN)/ledgerline serve --host $(HOST) --port $(PORT) $(if $(DEMO),--demo,)

## The command line: make cli ARGS="orgs list" (same as .venv/bin/ledgerline orgs list).
cli: $(SERVE_STAMP)
	@$(BIN)/ledgerline $(ARGS)

## Lint, types and the whole suite (SQLite, plus PostgreSQL and Redis when they answer; CI=true requires them).
test: lint types suite

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

# One worker per core, four at most (pytest-xdist): each worker has its own databases.
suite: $(STAMP)
	$(BIN)/pytest -n auto --maxprocesses 4

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^pip==' > requirements.lock

## Writes and small requests under load, next to a bare FastAPI floor (both databases, ~5 min).
bench: $(STAMP)
	$(BIN)/python -m bench.load

## Build the container image and smoke-test compose.yaml's stack (needs a Docker daemon; not part of `make test`).
docker-test: $(SERVE_STAMP)
	bash docker/docker-test.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info

## Refresh the web app's vendored scripts from the npm registry (developers only; `make run` never
## needs Node or the network). Bump a version here, run it, commit the files it wrote.
HTMX_VERSION := 2.0.8
CHARTJS_VERSION := 4.5.1
VENDOR_DIR := src/ledgerline/web/static/vendor
vendor:
	rm -rf .vendor-tmp && mkdir -p .vendor-tmp $(VENDOR_DIR)
	cd .vendor-tmp && npm pack --silent htmx.org@$(HTMX_VERSION) chart.js@$(CHARTJS_VERSION)
	cd .vendor-tmp && tar xzf htmx.org-$(HTMX_VERSION).tgz && mv package htmx
	cd .vendor-tmp && tar xzf chart.js-$(CHARTJS_VERSION).tgz && mv package chartjs
	cp .vendor-tmp/htmx/dist/htmx.min.js $(VENDOR_DIR)/htmx-$(HTMX_VERSION).min.js
	cp .vendor-tmp/htmx/LICENSE $(VENDOR_DIR)/htmx.LICENSE
	cp .vendor-tmp/chartjs/dist/chart.umd.min.js $(VENDOR_DIR)/chart-$(CHARTJS_VERSION).umd.min.js
	cp .vendor-tmp/chartjs/LICENSE.md $(VENDOR_DIR)/chart.js.LICENSE.md
	rm -rf .vendor-tmp

## The dashboard, records and accounts pages at 1280 and 390 px, from demo data, into docs/screenshots/.
screenshots: $(STAMP)
	$(BIN)/python -m tests.web.screenshots docs/screenshots
