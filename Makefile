# Beilei: `make run` starts the whole platform locally; `make test` runs every test.
# Both install what they need first (system packages via apt when root, Python packages in .venv,
# the Kafka jars via Maven into ~/.cache/beilei).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | md5sum | cut -c1-8)

.PHONY: run test lint unit integration deps system-deps kafka-jars witness ledger-speedups stop schemas check-schemas bench faults screenshots clean help

help:
	@echo "make run    start Kafka, PostgreSQL and the five services, run a demo, leave it running (Ctrl-C stops)"
	@echo "make test   run unit, contract and integration tests (real Kafka and PostgreSQL)"
	@echo "make unit   only the fast tests (no broker)"
	@echo "make lint   ruff: pyflakes, pycodestyle, isort, bugbear, pyupgrade (pyproject.toml [tool.ruff])"
	@echo "make stop   stop a local Kafka and PostgreSQL left running"
	@echo "make bench  the PickupSurge benchmark (STUDENTS=20000 by default; STUDENTS=557000 SCHOOLS=508 for the city)"
	@echo "make faults the full fault drill: a school day through killed services, broker and database (FAULTS_ARGS=--help)"

run: deps
	$(BIN)/python -m simulator.run

test: deps
	$(BIN)/python -m pytest

lint: deps
	$(BIN)/ruff check .

unit: deps
	$(BIN)/python -m pytest -m "not integration" tests/unit tests/contracts

integration: deps
	$(BIN)/python -m pytest -m integration

deps: system-deps $(STAMP) kafka-jars witness ledger-speedups tests/deploy/node_modules/.installed services/portal/static/vendor/.installed

system-deps:
	@infra/local/system-deps.sh

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	@rm -f $(VENV)/.installed-* && touch $@

tests/deploy/node_modules/.installed: tests/deploy/package-lock.json
	npm ci --prefix tests/deploy --no-audit --no-fund --loglevel=error
	@touch $@

# The portal's browser code from the pinned npm packages, copied where the portal serves it (/static/vendor/).
services/portal/static/vendor/.installed: services/portal/web/package-lock.json services/portal/web/copy-vendor.sh
	npm ci --prefix services/portal/web --no-audit --no-fund --loglevel=error
	@services/portal/web/copy-vendor.sh
	@touch $@

kafka-jars:
	@infra/local/kafka.sh fetch

# The full audit's compiled leaf hash and commitment check (services/audit/ledger/_speedups.c) with gcc;
# without a compiler the ledger package computes the same in Python.
ledger-speedups: $(STAMP)
	@$(BIN)/python -m services.audit.ledger.speedups_build

# litewitness and witnessctl (filippo.io/torchwood) built with Go into ~/.cache/beilei: the ledger's witnesses.
witness:
	@infra/local/witness.sh fetch

# PickupSurge against the raw baseline; figures printed and written to .local/pickup_surge.json.
STUDENTS ?= 20000
bench: deps
	$(BIN)/python -m bench.pickup_surge --students $(STUDENTS) $(if $(SCHOOLS),--schools $(SCHOOLS)) $(BENCH_ARGS)

# The fault drill on a broker and a cluster of its own (tests/faults/drill.py): a table of fault, recovered,
# seconds, lost, duplicated; fails on any loss, duplicate or fault not recovered from.
faults: deps
	$(BIN)/python -m tests.faults.drill $(FAULTS_ARGS)

# The portal's pages in Debian's Chromium, desktop and phone: docs/screenshots/<page>-<desktop|phone>.png.
screenshots: deps
	$(BIN)/python -m tests.web.screenshots

stop:
	-infra/local/kafka.sh stop
	-infra/local/postgres.sh stop

schemas: deps
	$(BIN)/python -m shared.contracts write

check-schemas: deps
	$(BIN)/python -m shared.contracts check

clean: stop
	rm -rf .local $(VENV)
