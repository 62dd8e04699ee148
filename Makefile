# rolechat: `make run` starts the whole stack at http://localhost:8080; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := services/memory services/chat services/auth-proxy services/local-edge services/local-model
PY_SOURCES := constraints.txt requirements-dev.txt terraform/scripts/checkov-requirements.txt scripts/llama-wheel.sh \
	libs/rolechat_common/pyproject.toml $(addsuffix /pyproject.toml,$(SERVICES))
FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/package.json frontend/package-lock.json frontend/vite.config.* -type f 2>/dev/null)

.PHONY: run test test-python test-frontend bench bench-chaos install frontend clean

# Without OPENAI_API_KEY the bundled local model answers; with it, OpenAI (or OPENAI_BASE_URL) does.
run: install frontend
	@if [ -n "$$OPENAI_API_KEY" ]; then \
	  export OPENAI_BASE_URL="$${OPENAI_BASE_URL:-https://api.openai.com/v1}"; \
	else \
	  export COMPOSE_PROFILES="$${COMPOSE_PROFILES-local-model}"; \
	fi; \
	exec $(BIN)/python scripts/localstack.py up

test: install frontend
	./scripts/system-deps.sh --browser
	$(MAKE) test-frontend
	$(MAKE) test-python

test-python:
	$(BIN)/pytest -q

test-frontend:
	cd frontend && npm test

# Speed and capacity, side by side with a direct call to the same upstream (results in bench/results/).
bench: install
	$(BIN)/python -m bench

# A fault drill under load: 1,000 streams, memory killed with SIGKILL halfway (results in bench/results/chaos.*).
bench-chaos: install
	$(BIN)/python -m bench.chaos

install: $(VENV)/.installed frontend/node_modules/.installed

$(VENV)/.installed: $(PY_SOURCES)
	./scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	./scripts/llama-wheel.sh $(BIN)/pip
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt -e libs/rolechat_common $(addprefix -e ,$(SERVICES))
	./terraform/scripts/install-checkov.sh
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend: frontend/dist/index.html

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist
