# Careloop. `make test` is the README's test command (CI runs it through .ci/run); `make run` serves
# the whole backend locally. Every target bootstraps .venv from pyproject.toml if needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# pytest-xdist workers: both cores by default.
WORKERS ?= auto
LAYER_RUNTIME := 3.14

.PHONY: install test lint format typecheck cfn-lint pytest mutation-gate mutate bench cost redrive openapi run invoke clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# mypy runs beside pytest (the suite leaves a core idle at times); cfn-lint runs inside pytest
# (tests/unit/test_template.py), so it is not run twice.
test: install lint
	@$(MAKE) --no-print-directory -j2 typecheck pytest
	@$(MAKE) --no-print-directory mutation-gate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

cfn-lint: install
	$(BIN)/cfn-lint template.yaml

# worksteal: a worker that runs out of tests takes some of the other's, so a few long end-to-end
# tests queued late do not leave one core idle at the end.
pytest: install
	$(BIN)/pytest -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

# Mutation testing of shared/domain (tests/mutation/gate.py). The gate re-runs mutmut only on domain
# modules whose source, unit tests or equivalent-mutant entries changed since `make mutate` recorded
# tests/mutation/baseline.json, and fails under 90 % of non-equivalent mutants killed.
mutation-gate: install
	$(PY) -m tests.mutation.gate check

mutate: install
	$(PY) -m tests.mutation.gate record $(MODULES)

bench: install
	$(PY) -m bench.cold_start
	$(PY) -m bench.intake_calls
	$(PY) -m bench.scheduling
	$(PY) -m bench.availability
	$(PY) -m bench.reminders
	$(PY) -m bench.escalations
	$(PY) -m bench.webhooks
	$(PY) -m bench.transitions
	$(PY) -m bench.careplans
	$(PY) -m bench.records
	$(PY) -m bench.authorizations
	$(PY) -m bench.feedback
	$(PY) -m bench.runtime
	$(PY) -m bench.flows
	@$(MAKE) --no-print-directory cost

# The cost model (ops/cost.py): USD a month per 1,000 active patients, from bench/results.json (what
# `python -m bench.flows` measured), ops/prices.json, ops/profile.json and template.yaml. No AWS call.
cost: install
	$(PY) -m ops.cost

openapi: install
	@mkdir -p docs
	$(PY) -m local.openapi > docs/openapi.json
	@echo "wrote docs/openapi.json"

# After the fix, replay a dead-letter queue of a deployed stack (ops/redrive.py; AWS credentials for
# it): `make redrive STACK=careloop-prod QUEUE=AsyncDeadLetterQueue` (LIMIT=, DRY_RUN=1 to count).
redrive: install
	@test -n "$(STACK)" -a -n "$(QUEUE)" || { echo "usage: make redrive STACK=careloop-prod QUEUE=AsyncDeadLetterQueue" >&2; exit 2; }
	$(PY) -m ops.redrive --stack $(STACK) --queue $(QUEUE) $(if $(LIMIT),--limit $(LIMIT)) $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run)

# HOST and PORT come from the environment (default 127.0.0.1:3000); ARGS passes flags, e.g.
# `make run ARGS="--seed --data-dir .local-data"`.
run: install
	$(PY) -m local.runtime $(ARGS)

invoke: install
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=IdentityFunction EVENT=events/identity/me.json" >&2; exit 2; }
	$(PY) -m local.invoke $(FN) $(EVENT)

clean:
	rm -rf $(VENV) .aws-sam build .pytest_cache .mypy_cache .ruff_cache

# ------------------------------------------------------------------ sam build (BuildMethod: makefile)
# `sam build` calls these with ARTIFACTS_DIR set, here in the checkout (template.yaml's ContextPath and
# WorkingDirectory), after copying only each resource's CodeUri/ContentUri (functions/, shared/), not the
# checkout with its .venv (that copy, once per resource, made `sam build` take minutes); so they write
# nothing but $(ARTIFACTS_DIR). Functions get the functions/ package; the layer gets
# shared/ plus the runtime dependencies as arm64 wheels for the Lambda runtime, at the versions the
# tests ran with (the venv's), so `import shared...` and `import functions...` resolve in Lambda
# exactly as they do in tests.
build-SharedLayer: install
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -r shared "$(ARTIFACTS_DIR)/python/"
	$(PY) -m pip freeze --exclude-editable > "$(ARTIFACTS_DIR)/tested-versions.txt"
	$(PY) -m pip install --quiet --target "$(ARTIFACTS_DIR)/python" \
	  --platform manylinux2014_aarch64 --implementation cp --python-version $(LAYER_RUNTIME) \
	  --only-binary=:all: --constraint "$(ARTIFACTS_DIR)/tested-versions.txt" \
	  $$($(PY) -c "import tomllib;print(' '.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))")
	rm -rf "$(ARTIFACTS_DIR)/tested-versions.txt" "$(ARTIFACTS_DIR)/python/bin"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

build-%Function:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -r functions "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
