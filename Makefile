# Two commands for a newcomer: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint types suite format lock bench clean vendor screenshots

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

## Serve the API on an embedded SQLite file (migrated, first admin created). DEMO=1 loads demo data.
run: $(STAMP)
	$(BIN)/ledgerline serve --host $(HOST) --port $(PORT) $(if $(DEMO),--demo,)

## Lint, types and the whole suite (SQLite, plus PostgreSQL when one answers).
test: lint types suite

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

suite: $(STAMP)
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## Re-pin every dependency after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^pip==' > requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench.dashboard --help

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

## The dashboard and records pages at 1280 and 390 px, from demo data, into docs/screenshots/.
screenshots: $(STAMP)
	$(BIN)/python -m tests.web.screenshots docs/screenshots
