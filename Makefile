# Two commands on a fresh machine: `make demo` (sample data -> every month -> marts, exports, summary)
# and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: demo test test-fast ui lint bench docs clean install sql

$(BIN)/fairuse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/fairuse

$(DAGSTER_HOME)/dagster.yaml: dagster_home.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster_home.yaml $@

# DEMO_ARGS: more `fairuse generate` options, e.g. a smaller demo (tests/test_docs.py): --users 200 --months 2026-09..2026-10
demo: install $(DAGSTER_HOME)/dagster.yaml
	rm -rf data/warehouse.duckdb data/build data/exports data/reports
	$(BIN)/fairuse generate --out data/raw --seed 7 $(DEMO_ARGS)
	$(BIN)/fairuse run --raw-dir data/raw --warehouse data/warehouse.duckdb --exports-dir data/exports

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# SQL shell on the published warehouse, read-only: Harlequin, the `sql` extra (part of dev; installed if missing).
sql: install
	@test -x $(BIN)/harlequin || $(BIN)/pip install --quiet -e '.[sql]'
	$(BIN)/fairuse sql

lint: install
	$(BIN)/ruff check dagster_project tests
	FAIRUSE_BUILD_DB=$(CURDIR)/data/lint.duckdb FAIRUSE_HASH_KEY=lint $(BIN)/sqlfluff lint dbt_models/models

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

# The dbt docs site as one static page (dbt_models/target/docs/static_index.html), before or after `make demo`.
docs: install
	@$(BIN)/python -m dagster_project.tools.docs

clean:
	rm -rf data/raw data/*.duckdb data/build data/exports data/reports data/truth dbt_models/target

bench: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -c "from dagster_project.domain.dbt_project import ensure_manifest; ensure_manifest()"
	$(BIN)/python -m dagster_project.tools.bench
