# Real-time personalised re-ranking on Flink. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CONF ?= conf/local.yaml
TEST_CONF ?= conf/test.yaml
DURATION ?=
PYTEST_ARGS ?=

JOB_JARS_STAMP := infra/jars/.installed
PY_STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-integration services-up services-down services-status \
        sample evaluate bench clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(PY_STAMP) $(JOB_JARS_STAMP) redis-server ## Install everything (idempotent): venv, jars, redis-server

$(PY_STAMP): setup.py
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

$(JOB_JARS_STAMP): infra/pom.xml $(wildcard infra/src/main/java/io/github/rerank/flink/*.java)
	@command -v mvn >/dev/null || { echo "error: mvn (Maven) not found" >&2; exit 1; }
	rm -rf infra/jars
	mvn --quiet --batch-mode -f infra/pom.xml package \
	    dependency:copy-dependencies@job-jars dependency:copy-dependencies@kafka-jars
	@touch $@

.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server from Debian packages"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }; \
	  command -v redis-server >/dev/null || { echo "error: could not install redis-server" >&2; exit 1; }; }

run: install ## Run the job on the local Kafka and Redis and show reranked lists (DURATION=60 to stop by itself)
	$(PY) -m jobs.run_local --conf $(CONF) $(if $(DURATION),--duration $(DURATION))

test: install ## Run all tests (unit, then integration on the real Kafka, Redis and Flink)
	$(PY) -m pytest -p no:cacheprovider tests $(PYTEST_ARGS)

test-unit: install ## Run the unit tests only (seconds, no services)
	$(PY) -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

test-integration: install ## Run the integration tests only
	$(PY) -m pytest -p no:cacheprovider tests/integration $(PYTEST_ARGS)

services-up: install ## Start the local Kafka and Redis for CONF (default conf/local.yaml)
	$(PY) -m infra.local_services start --conf $(CONF)

services-down: ## Stop the local Kafka and Redis that were started for CONF
	@test -x $(PY) && $(PY) -m infra.local_services stop --conf $(CONF) || true

services-status: ## Show whether the local Kafka and Redis for CONF are running
	$(PY) -m infra.local_services status --conf $(CONF)

sample: install ## Write the seeded sample data set (Taobao UserBehavior format) to .run/sample.csv
	$(PY) -m jobs.sample_data --out .run/sample.csv

clean: services-down ## Stop services and remove run data (keeps the venv and jars)
	rm -rf .run
