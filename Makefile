# Two commands do all set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/federation/node_modules/.installed
MEDPLUM_STAMP := tests/medplum/server/node_modules/.installed

.PHONY: run test test-fast bench lint migrate postgres orthanc chromium node clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(NODE_STAMP): tests/federation/package.json tests/federation/package-lock.json
	cd tests/federation && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

$(MEDPLUM_STAMP): tests/medplum/server/package.json tests/medplum/server/package-lock.json
	cd tests/medplum/server && npm ci --no-audit --no-fund --loglevel=error
	@touch $(MEDPLUM_STAMP)

node: $(NODE_STAMP) $(MEDPLUM_STAMP)

postgres:
	@.ci/ensure-postgres

## The DICOM tests run a real Orthanc with DICOMweb (Debian orthanc, orthanc-dicomweb).
orthanc:
	@.ci/ensure-orthanc

## The console's browser tests (tests/console) drive Debian's chromium through Playwright.
chromium:
	@.ci/ensure-chromium

## Serve on http://127.0.0.1:8000 on the embedded SQLite database under ./var (migrates first),
## as a local demo: ./var/demo.env (written once: a Stripe webhook secret, M-Pesa sandbox
## settings; what you export wins) and the M-Pesa sandbox on 127.0.0.1:8901 beside it.
## Ctrl-C stops both. Production: `cari-gateway serve` with your own CARI_* settings.
run: $(STAMP)
	$(VENV)/bin/cari-gateway serve --demo

migrate: $(STAMP)
	$(VENV)/bin/cari-gateway migrate

## The whole suite: unit, contract, API, storage on SQLite and PostgreSQL, federation, schemathesis.
## One pytest worker per core (pytest-xdist): every test makes its own databases, ports and
## files, so they run side by side (2 cores: 2,511 tests in 12.5 min; serially the suite
## took 16 min when it had 2,267).
test: $(STAMP) $(NODE_STAMP) $(MEDPLUM_STAMP) postgres orthanc chromium
	$(PY) -m pytest -q -n auto

## Everything but the tests that start processes (uvicorn, node).
test-fast: $(STAMP) postgres orthanc
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP) postgres orthanc
	$(PY) -m benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) tests/federation/node_modules tests/medplum/server/node_modules .pytest_cache .mypy_cache .ruff_cache
