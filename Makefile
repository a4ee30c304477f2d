# Ceasefire Ledger: operator targets. Needs only python3 on PATH; everything else lives in .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-x -k claims"
PYTEST_ARGS ?=
# Only the folders that exist yet (ruff fails on a missing path).
LINT_PATHS := $(wildcard service tests migrations bench) gunicorn.conf.py

export FLASK_APP := service

.PHONY: help install lock run test contract lint openapi bench resilience clean distclean

help:
	@echo "make install | lock | run | test | contract | lint | openapi | bench | resilience | clean | distclean"

install: $(STAMP)

# The locks: requirements/runtime.lock is what the image installs, requirements/dev.lock adds the
# test and lint tools. Both are resolved for every supported Python (3.11.0 and up) by `make lock`.
RUNTIME_LOCK := requirements/runtime.lock
DEV_LOCK     := requirements/dev.lock

$(BIN)/python:
	@echo "==> creating $(VENV) with $$($(PYTHON) --version 2>&1) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a lock changes; pip's own progress shows while it works.
$(STAMP): $(DEV_LOCK) | $(BIN)/python
	@echo "==> installing $(DEV_LOCK) into $(VENV) (the first time downloads every package; pip's progress follows)"
	$(BIN)/python -m pip install --require-hashes -r $(DEV_LOCK)
	touch $@

# Re-resolve both locks from pyproject.toml, keeping every pin that still fits (pass e.g.
# LOCK_ARGS="--upgrade-package flask" to move one). --universal resolves the markers for every
# Python in requires-python, so the lock installs on 3.11.0 as on 3.13; hashes are PyPI's and no
# machine's package folders are written into the files.
UV_COMPILE = $(BIN)/uv pip compile --no-config --universal --python-version 3.11 --generate-hashes \
	--index-url https://pypi.org/simple --no-emit-index-url --no-emit-find-links \
	--custom-compile-command "make lock" $(LOCK_ARGS) pyproject.toml
lock: install
	$(UV_COMPILE) -o $(RUNTIME_LOCK)
	$(UV_COMPILE) --extra dev -o $(DEV_LOCK)

run: install
	@bash scripts/run-dev.sh

# SQLite always; then TEST_DATABASE_URL too when set. DATABASE_URL is dropped so that no test can
# reach a developer's real database. pytest exit 5 ("no tests collected") counts as a failure.
# -m selects the contract fuzzing too (tests/test_contract.py), which a bare `pytest` leaves out.
define pytest_on
rc=0; env -u DATABASE_URL $(2) $(BIN)/python -m pytest -q -m "contract or not contract" $(PYTEST_ARGS) || rc=$$?; \
if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests ($(1))" >&2; exit 1; fi; \
if [ $$rc -ne 0 ]; then echo "make test: FAILED on $(1) (pytest exit $$rc)" >&2; exit $$rc; fi
endef

test: install
	@echo "==> tests on SQLite"
	@$(call pytest_on,SQLite,-u TEST_DATABASE_URL)
	@if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
	  echo "==> tests on TEST_DATABASE_URL"; \
	  $(call pytest_on,TEST_DATABASE_URL,); \
	else \
	  echo "==> TEST_DATABASE_URL not set: second run (PostgreSQL) skipped"; \
	fi

# Schemathesis against a live server with the committed openapi.yaml, alone and in full: `test`
# runs it too, without the coverage phase's invalid values (see tests/test_contract.py).
contract: install
	env -u DATABASE_URL CONTRACT_FULL=1 $(BIN)/python -m pytest -q -m contract tests/test_contract.py

lint: install
	$(BIN)/ruff check $(LINT_PATHS)

openapi: install
	@mkdir -p instance
	$(BIN)/flask --app service openapi write --format=yaml openapi.yaml

bench resilience: install
	@script=bench/$(if $(filter bench,$@),run,resilience).sh; \
	if [ -f "$$script" ]; then exec bash "$$script"; fi; \
	echo "$$script is not there yet" >&2; exit 1

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Also removes the virtualenv, the development database (seeds marker, admin key), bench results.
distclean: clean
	rm -rf $(VENV) instance bench/results
