# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: serve test install install-test services lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[sklearn]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Install, then run the compliance server on 127.0.0.1:5000 with data in ./.mlflow-compliance/
serve: install
	$(BIN)/mlflow-compliance server --host $(HOST) --port $(PORT)

## Install what the tests need (PostgreSQL included), check style and types, run the suite
test: install-test services lint
	. scripts/test-services.env && $(BIN)/python -m pytest

services:
	bash scripts/postgres.sh
	bash scripts/chromium.sh

lint: install-test
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

## Compliance server against plain `mlflow server`, side by side; prints medians and ratios
benchmark: install-test
	$(BIN)/python -m benchmarks.requests_throughput

clean:
	rm -rf $(VENV) .mlflow-compliance .pytest_cache .mypy_cache .ruff_cache
