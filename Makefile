# The two quickstart commands (see README): `make run` and `make test`.
# Both create .venv and install the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
API_PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test api lint venv-runtime venv-dev browser clean bench langflow-fixtures langflow-e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

venv-runtime: $(VENV)/.runtime-installed
venv-dev: $(VENV)/.dev-installed

## Dashboard on the embedded SQLite default (demo data is created on first start), on
## 127.0.0.1 (.streamlit/config.toml). Beyond localhost it needs sign-in or a declared
## authenticating proxy: the check runs before Streamlit starts (docs/access.md).
RUN_FLAGS ?=
run: venv-runtime
	$(BIN)/python -m dashboard.state.exposure $(RUN_FLAGS)
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) $(RUN_FLAGS)

## REST API on the configured database (embedded SQLite by default).
api: venv-runtime
	$(BIN)/flowruns init-db
	$(BIN)/uvicorn --factory api.app:create_app --host 127.0.0.1 --port $(API_PORT)

## Debian's Chromium for the browser tests (never a downloaded browser); skipped if apt is unavailable.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "no /usr/bin/chromium: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Lint, type-check, then the whole suite on SQLite and (if reachable) PostgreSQL.
test: venv-dev browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

## Ours against the baselines on cached 100k and 1M datasets (BENCH_ARGS="--sizes 10m" opt-in).
BENCH_ARGS ?=
bench: venv-dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Regenerate tests/fixtures/langflow/ with a real Langflow (installed into var/; minutes).
LANGFLOW_FIXTURE_ARGS ?=
langflow-fixtures: venv-dev
	$(BIN)/python scripts/langflow_fixtures/make_fixtures.py --version 1.13.0 $(LANGFLOW_FIXTURE_ARGS)
	$(BIN)/python scripts/langflow_fixtures/make_fixtures.py --version 1.7.3 $(LANGFLOW_FIXTURE_ARGS)

## A real Langflow runs two flows, we sync them, Chromium checks the run detail (minutes; not in CI).
LANGFLOW_E2E_ARGS ?=
langflow-e2e: venv-dev browser
	$(BIN)/python scripts/langflow_fixtures/e2e.py $(LANGFLOW_E2E_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
