# The two set-up commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)

# Migrations, the bundled HTTPS demo API on loopback, the demo data (once), then the
# host with the plugin on http://127.0.0.1:$(PORT).
run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m plugin_host.demo.run --port $(PORT)

# Two processes (pytest-xdist), a test file each at a time: a file's module fixtures
# (one app, one wheel build) stay in one process. TEST_WORKERS=0 runs in this one.
TEST_WORKERS ?= 2
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
