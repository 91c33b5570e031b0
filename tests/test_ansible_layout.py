"""Structure every role must have, checked from the files (fails on drift)."""

import os
import shutil
import subprocess

import pytest
import yaml

from lab_helpers import REPO

ROLES = sorted(d for d in os.listdir(f"{REPO}/roles") if os.path.isdir(f"{REPO}/roles/{d}"))
# task keywords that are not modules
KEYWORDS = {"name", "when", "loop", "loop_control", "register", "vars", "notify", "become",
            "changed_when", "failed_when", "tags", "args", "block", "rescue", "always",
            "ignore_errors", "delegate_to", "run_once", "environment", "until", "retries",
            "delay", "no_log", "listen", "check_mode", "become_user", "timeout", "with_items",
            "delegate_facts", "throttle", "async", "poll"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def tasks_in(role):
    folder = f"{REPO}/roles/{role}/tasks"
    for name in sorted(os.listdir(folder)):
        for task in load(f"{folder}/{name}") or []:
            yield name, task
            for section in ("block", "rescue", "always"):
                for sub in task.get(section, []):
                    yield name, sub


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_house_layout(role):
    base = f"{REPO}/roles/{role}"
    for part in ("defaults/main.yml", "meta/main.yml", "meta/argument_specs.yml", "tasks/main.yml"):
        assert os.path.exists(f"{base}/{part}"), f"{role} lacks {part}"


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_in_argument_specs(role):
    defaults = load(f"{REPO}/roles/{role}/defaults/main.yml") or {}
    options = load(f"{REPO}/roles/{role}/meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    missing = sorted(set(defaults) - set(options))
    assert not missing, f"{role}: defaults without argument_specs: {missing}"
    for name, spec in options.items():
        assert spec.get("description"), f"{role}: {name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_modules_are_fully_qualified(role):
    for file, task in tasks_in(role):
        modules = [k for k in task if k not in KEYWORDS and not k.startswith("with_")]
        for module in modules:
            assert module.count(".") >= 2, f"{role}/tasks/{file}: '{module}' is not an FQCN"


@pytest.mark.parametrize("role", ROLES)
def test_no_shell_module(role):
    for file, task in tasks_in(role):
        assert "ansible.builtin.shell" not in task, f"{role}/tasks/{file}: use a module or command"


@pytest.mark.parametrize("playbook", ["site.yml", "playbooks/teardown.yml"])
def test_playbooks_pass_syntax_check(playbook):
    if not shutil.which("ansible-playbook"):
        pytest.fail("ansible-playbook not on PATH: run the tests from the venv (make test)")
    proc = subprocess.run(["ansible-playbook", "--syntax-check", playbook], cwd=REPO,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "ANSIBLE_CONFIG": f"{REPO}/ansible.cfg"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
