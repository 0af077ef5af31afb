# dockerflow developer tasks. Both `make example` and `make test` work from a bare machine:
# they create the virtualenv from the lock file, install and start a Docker engine when none
# answers, and build the images they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements-lock.txt
UV_VERSION := 0.13.9
CONFORMANCE ?= $(CURDIR)/../shared/conformance

.PHONY: setup lock engine tools images example test lint unit conformance bench screenshots clean

setup: $(VENV)/.installed

# Exactly the versions in the lock file (what CI tested), then dockerflow itself without
# resolving anything; `pip check` fails when pyproject.toml wants what the lock lacks.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip check || { echo "$(LOCK) does not satisfy pyproject.toml: run 'make lock'"; exit 1; }
	touch $@

# Upgrade the pinned versions on purpose (then run `make test` and commit the lock file).
lock:
	test -x $(VENV)/bin/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 --upgrade \
	  --custom-compile-command "make lock" -o $(LOCK)

engine:
	scripts/ensure-docker

tools:
	scripts/ensure-tools

images: setup engine
	$(BIN)/dockerflow images build

example: images
	cd examples/hello && ../../$(BIN)/dockerflow run hello.dig --rerun
	@echo
	@echo "That was examples/hello/hello.dig. Next:"
	@echo "  examples/        more workflows (pipeline/, ci-build/, sdk/)"
	@echo "  docs/            the .dig language, operators, docker: options, the CLI"
	@echo "  . $(VENV)/bin/activate && dockerflow init myproject    a project of your own"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy dockerflow --ignore-missing-imports

unit: setup
	$(BIN)/pytest -q -m "not docker" tests/unit

test: setup engine tools lint
	$(BIN)/pytest -q tests
	@left=$$(docker ps -aq); if [ -n "$$left" ]; then echo "containers left behind:"; docker ps -a; exit 1; fi

conformance: setup
	$(CONFORMANCE)/run --cli "$(CURDIR)/$(BIN)/dockerflow"

bench: setup engine
	$(BIN)/python bench/run.py

# The web UI's screenshots in docs/screenshots/ (docs/ui.md), taken by the browser tests.
screenshots: setup tools
	DOCKERFLOW_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/browser

clean:
	rm -rf $(VENV) .pytest_cache
