# disgrafs-lab: the two commands are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# molecule and ansible must come from the venv, never Debian's /usr/bin/ansible*.
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv image dockerd lab lab-down test test-unit test-molecule bench clean

help:
	@echo "make lab        bring up lab-server + lab-test containers and provision them with site.yml"
	@echo "make lab-down   remove the lab containers and network"
	@echo "make test       pytest + molecule scenarios (leaves nothing behind)"
	@echo "make bench      benchmarks (bench/results/*.json)"
	@echo "make box        build the offline Debian 12 Vagrant box (make box-preload: with packages)"
	@echo "make test-vagrant  the real VM lab test (LAB_TCG=1 where KVM cannot run guests; ~30 min)"

# The tool environment: pinned ansible-core + collections, molecule, pytest.
$(VENV)/.done: requirements.txt pyproject.toml
	@echo "==> [venv] creating $(VENV) with pinned tools"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q -r requirements.txt
	@$(PY) -m pip install -q -e '.[server]'
	@touch $@
venv: $(VENV)/.done

dockerd:
	@scripts/ensure-dockerd.sh

image: dockerd
	@scripts/lab-image.sh

lab: venv image
	@scripts/lab.sh up

lab-down:
	@scripts/lab.sh down

test: venv image
	@scripts/run-tests.sh

test-unit: venv
	@$(PY) -m pytest -q tests

test-molecule: venv image
	@cd $(CURDIR) && molecule test -s default

# Benchmarks are measured, not asserted: ratios go to bench/results/.
bench: venv
	@$(PY) -m pip install -q -e '.[server,bench]'
	@echo "==> [bench] sockredir bypass vs plain TCP"
	@$(PY) bench/bypass.py
	@$(MAKE) --no-print-directory bench-disgrafs
	@$(MAKE) --no-print-directory bench-suite

clean: lab-down
	rm -rf $(VENV)

-include mk/*.mk
