# cost-janitor — the two commands are `make demo` and `make test`; everything installs itself on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CDK := npx --no-install cdk

# Synth opens no network connection and prints no banners.
export CDK_DISABLE_CLI_TELEMETRY=1
export CDK_DISABLE_VERSION_CHECK=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: deps test test-unit test-integration test-infra demo synth lint bench docs clean lock report-screenshot

deps: $(VENV)/.installed node_modules/.installed build/deps-layer/.installed

$(VENV)/.installed: requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip==25.3
	$(PIP) install -q -r requirements-dev.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Runtime packages for the Lambda layer, for the Lambda platform (arm64, Python 3.13), not this machine.
build/deps-layer/.installed: lambdas/requirements.txt $(VENV)/.installed
	rm -rf build/deps-layer && mkdir -p build/deps-layer/python
	$(PIP) install -q --target build/deps-layer/python --platform manylinux2014_aarch64 --python-version 3.13 \
		--implementation cp --only-binary=:all: --no-compile --no-deps -r lambdas/requirements.txt
	touch $@

# In parallel, one worker per core (each with its own emulator, synth and IAM guard); a file stays on one worker.
test: deps
	$(PY) -m pytest tests -q -n auto --dist loadfile --durations=20

test-unit: deps
	$(PY) -m pytest tests/unit -q

test-integration: deps
	$(PY) -m pytest tests/integration -q -n auto --dist loadfile

test-infra: deps
	$(PY) -m pytest tests/infra -q

demo: deps
	$(PY) -m cost_janitor.local.demo

# The demo account's HTML report in a real browser: headless Chromium (Debian's package, installed if missing)
# writes docs/report.png, the README's picture.
report-screenshot: deps
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	COST_JANITOR_DEMO_REPORT=build/demo-report.html $(PY) -m cost_janitor.local.demo > build/demo.log
	chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=820,2300 \
		--screenshot=docs/report.png "file://$(CURDIR)/build/demo-report.html" 2>/dev/null
	@echo "docs/report.png (from build/demo-report.html)"

synth: deps
	$(CDK) synth --no-lookups -q
	@echo "template: cdk.out/CostJanitor.template.json (cdk-nag report: cdk.out/validation-report.json)"

lint: synth
	$(VENV)/bin/ruff check lambdas infra tests bench agent app.py
	$(VENV)/bin/mypy --strict lambdas/cost_janitor infra app.py
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

bench: synth
	$(PY) bench/cold_start.py
	$(PY) bench/sweep.py
	$(PY) bench/fanout.py
	$(PY) bench/night.py
	$(PY) bench/eks.py
	$(PY) bench/network.py
	$(PY) bench/efs.py
	$(PY) bench/ecr.py
	$(PY) bench/fsx.py
	$(PY) bench/amis.py
	$(PY) bench/prices.py
	$(PY) bench/agent_rollup.py
	$(PY) bench/org_night.py

# Re-pin every transitive Python dependency after changing requirements-dev.txt.
lock:
	rm -rf /tmp/cost-janitor-lock && $(PYTHON) -m venv /tmp/cost-janitor-lock
	/tmp/cost-janitor-lock/bin/pip install -q -r requirements-dev.txt
	/tmp/cost-janitor-lock/bin/pip freeze | grep -v '^-e' > constraints.txt

docs: deps
	$(VENV)/bin/cost-janitor policy --reference --update-readme README.md

clean:
	rm -rf $(VENV) node_modules build cdk.out .pytest_cache .mypy_cache .ruff_cache
