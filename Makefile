# Two entry points: `make run` (index the bundled corpus, serve the chat page) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-test run index test lint bench eval browser-deps clean

install: $(VENV)/.installed

# torch is installed on its own first so that pip takes the CPU wheel on the machine's disk.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Debian's Chromium for the browser tests (Playwright's own browser download fails offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

index: install
	$(BIN)/qa index

run: index
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Everything: lint, the import layers (pyproject.toml, [tool.importlinter]), every test (the real
# model and the browser included). The eval gate, answer recall@5 = 1.0 on the bundled set with
# the real model, is tests/test_model.py::test_bundled_eval_gate, over the one index the model
# tests share, so the corpus is embedded with the real model once.
test: install-test browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# the quick run (a few minutes); bench/README.md has the per-section commands for the full one
bench: install
	$(BIN)/qa bench --quick

eval: index
	$(BIN)/qa eval eval/sets/bundled.jsonl

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
