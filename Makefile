# bankcrm developer commands. `make run` sets everything up and starts the demo bank;
# `make test` runs the whole suite (PostgreSQL too when BANKCRM_TEST_DATABASE_URL is set).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CUSTOMERS ?= 20000
MONTHS ?= 12
PORT ?= 8000

.PHONY: run install test lint bench bench-quick clean

$(BIN)/bankcrm: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev,postgres,spark]'
	touch $@

install: $(BIN)/bankcrm

run: install
	$(BIN)/bankcrm demo --customers $(CUSTOMERS) --months $(MONTHS) --port $(PORT)

test: install
	$(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/ingest.py --customers 1000000

bench-quick: install
	$(BIN)/python benchmarks/ingest.py --customers 100000

clean:
	rm -rf $(VENV) bankcrm-data .pytest_cache .mypy_cache .ruff_cache
