# Switchboard — the two commands: `make run` and `make test`. See README.md.
SHELL := /bin/sh
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The tests always talk to real PostgreSQL and Redis on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint format bench lock services clean

$(STAMP): requirements.lock clients/python/pyproject.toml
	@PY="$$(scripts/find-python)" || exit 1; \
	  [ -x $(BIN)/python ] || { echo "Creating $(VENV) with $$PY"; "$$PY" -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e clients/python
	@touch $@

run: $(STAMP)
	@scripts/run

test: $(STAMP)
	@scripts/services postgres redis chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@scripts/services postgres redis
	@bench/run $(BENCH_ARGS)

services:
	@scripts/services postgres redis

# requirements.lock: everything, dev tools included (make run, make test). requirements-runtime.lock:
# the runtime dependencies only, the same pins (constrained by the full lock), for the image.
lock:
	@PY="$$(scripts/find-python)" && "$$PY" -m venv /tmp/switchboard-lock && \
	  /tmp/switchboard-lock/bin/pip install -q pip-tools && \
	  /tmp/switchboard-lock/bin/pip-compile -q --extra dev --strip-extras --no-emit-index-url \
	    --no-emit-find-links --no-emit-trusted-host -o requirements.lock pyproject.toml && \
	  /tmp/switchboard-lock/bin/pip-compile -q --strip-extras --no-emit-index-url \
	    --no-emit-find-links --no-emit-trusted-host -c requirements.lock \
	    -o requirements-runtime.lock pyproject.toml

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
