# The README's two commands are `make demo` and `make test`; everything they need is set up here.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# Tests start hundreds of hub and CLI processes: they read compiled bytecode from a cache
# kept out of the source tree, even where PYTHONDONTWRITEBYTECODE is set (every process
# would otherwise compile every module it imports again).
PYTEST := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/.tonglian/pycache $(BIN)/pytest

.PHONY: setup demo bench bench-quick test lint typecheck proto proto-check contracts-check unit integration clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,chaincode]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(BIN)/tonglian demo

# Every benchmark, one table of ratios in bench/results/ (results.md, results.json).
bench: setup
	$(PY) bench/run_all.py

bench-quick: setup
	$(PY) bench/run_all.py --quick

lint: setup
	$(BIN)/ruff check hub adapters devnets tonglian_client tonglian_proof tonglian_tools tests bench
	$(BIN)/ruff format --check hub adapters devnets tonglian_client tonglian_proof tonglian_tools tests bench
	PYTHON=$(CURDIR)/$(BIN)/python proto/third_party.sh
	cd proto && ../node_modules/.bin/buf lint

typecheck: setup
	$(BIN)/mypy hub adapters devnets tonglian_client tonglian_proof tonglian_tools

proto: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" proto/generate.sh

proto-check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" proto/generate.sh --check

contracts-check: setup
	$(PY) -m devnets.evm.compile --check

unit: setup
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: setup
	$(PYTEST) tests/integration tests/e2e $(PYTEST_ARGS)

test: lint typecheck proto-check contracts-check
	$(PYTEST) tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .tonglian .pytest_cache .mypy_cache .ruff_cache
