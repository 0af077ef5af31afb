# dockerflow developer tasks. `make test` works from a bare machine: it creates the virtualenv,
# installs and starts a Docker engine when none answers, and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFORMANCE ?= $(CURDIR)/../shared/conformance

.PHONY: setup engine images test lint unit conformance bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

engine:
	scripts/ensure-docker

images: setup engine
	$(BIN)/dockerflow images build

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy dockerflow --ignore-missing-imports

unit: setup
	$(BIN)/pytest -q -m "not docker" tests/unit

test: setup engine lint
	$(BIN)/pytest -q tests
	$(BIN)/python scripts/conformance-check --conformance $(CONFORMANCE) --cli "$(CURDIR)/$(BIN)/dockerflow"
	@left=$$(docker ps -aq); if [ -n "$$left" ]; then echo "containers left behind:"; docker ps -a; exit 1; fi

conformance: setup
	$(CONFORMANCE)/run --cli "$(CURDIR)/$(BIN)/dockerflow"

bench: setup engine
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
