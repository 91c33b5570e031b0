# disgrafs-lab: the two commands are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# molecule and ansible must come from the venv, never Debian's /usr/bin/ansible*.
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help grade deps-lab deps-test venv image dockerd lab lab-down test test-unit test-molecule bench clean

# Every target a user runs carries a `## what it does` comment: `make help` lists them.
help: ## this list
	@awk -F':.*## ' '/^[a-zA-Z0-9%_-]+:.*## / {printf "  make %-22s %s\n", $$1, $$2}' \
	    $(MAKEFILE_LIST) | sort

# The tool environment: pinned ansible-core + collections, molecule, pytest.
$(VENV)/.done: requirements.txt pyproject.toml
	@echo "==> [venv] creating $(VENV) with pinned tools"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements.txt
	@$(PY) -m pip install -q -e '.[server,test,ray]'
	@touch $@
venv: $(VENV)/.done ## the tool venv (.venv): pinned ansible, molecule, pytest

# The one installer of this machine's packages (also .ci/run's): says what it
# installs, installs only what is missing, refuses unsupported systems.
deps-lab: ## install what `make lab` needs (Debian 12 / Ubuntu, as root)
	@scripts/install-deps.sh lab
deps-test: ## install what `make test` needs
	@scripts/install-deps.sh test

dockerd: ## start the Docker engine if it is not running
	@scripts/ensure-dockerd.sh

image: dockerd ## build the lab image (debootstrap + docker import) if absent
	@scripts/lab-image.sh

lab: deps-lab venv image ## bring up lab-server + lab-test and run site.yml (~4 min)
	@scripts/lab.sh up

lab-down: ## remove the lab containers and network
	@scripts/lab.sh down

test: deps-test venv image bpf ## make bpf, pytest, every molecule scenario (~30 min)
	@scripts/run-tests.sh

test-unit: venv ## pytest only (unit, kernel, DisGraFS, layout)
	@$(PY) -m pytest -q tests

test-molecule: venv image ## every molecule scenario, without pytest
	@TEST_PARTS=molecule scripts/run-tests.sh

# Benchmarks are measured, not asserted: ratios go to bench/results/.
bench: venv ## every benchmark; results in bench/results/
	@$(PY) -m pip install -q -e '.[server,bench]'
	@echo "==> [bench] sockredir bypass vs plain TCP"
	@$(PY) bench/bypass.py
	@$(MAKE) --no-print-directory bench-disgrafs bench-tagging
	@$(MAKE) --no-print-directory bench-suite

# Course mode: every server of the inventory graded, one class report.
grade: venv ## grade every lab server (labctl check) into grades/grades.{csv,json,md}
	@ansible-playbook playbooks/grade.yml

clean: lab-down ## lab-down and remove the venv
	rm -rf $(VENV)

-include mk/*.mk
