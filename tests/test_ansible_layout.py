"""Structure every role must have, checked from the files (fails on drift)."""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from lab_helpers import REPO

ROLES = sorted(d for d in os.listdir(f"{REPO}/roles") if os.path.isdir(f"{REPO}/roles/{d}"))
# The lab-wide settings: defined once, in roles/lab; every role that reads
# them depends on `lab` (meta/main.yml).
LAB_WIDE = {"lab_address", "lab_interface", "lab_install_dir", "lab_build_dir", "lab_config_dir",
            "lab_run_dir", "lab_log_dir", "lab_pin_root", "lab_artifact_source", "lab_apt_mirror",
            "lab_dnf_mirror", "lab_pip_index_url", "lab_pip_cert", "lab_ca_certs"}
# Roles that need labctl on the host: they depend on `labctl`, the one role
# that installs it (with the BPF sources, the wrapper and the exporter).
LABCTL_USERS = sorted(r for r in ROLES if (r.startswith("bpf_") and r != "bpf_toolchain") or r == "analysis")
# task keywords that are not modules
KEYWORDS = {"name", "when", "loop", "loop_control", "register", "vars", "notify", "become",
            "changed_when", "failed_when", "tags", "args", "block", "rescue", "always",
            "ignore_errors", "delegate_to", "run_once", "environment", "until", "retries",
            "delay", "no_log", "listen", "check_mode", "become_user", "timeout", "with_items",
            "delegate_facts", "throttle", "async", "poll"}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def role_files(role, parts=("defaults", "vars", "tasks", "handlers", "templates", "meta", "files")):
    for part in parts:
        for path in sorted(glob.glob(f"{REPO}/roles/{role}/{part}/**/*", recursive=True)):
            if os.path.isfile(path):
                yield path


def dependencies(role) -> list[str]:
    deps = (load(f"{REPO}/roles/{role}/meta/main.yml") or {}).get("dependencies") or []
    return [d if isinstance(d, str) else d.get("role", d.get("name")) for d in deps]


def dependency_closure(role) -> set[str]:
    """Every role `role` depends on, directly or through another role."""
    seen, todo = set(), list(dependencies(role))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(dependencies(dep))
    return seen


def defined_variables(role) -> set[str]:
    """Names a role defines: defaults, vars/*.yml, argument_specs (every entry point)."""
    names = set(load(f"{REPO}/roles/{role}/defaults/main.yml") or {})
    for path in role_files(role, ("vars",)):
        names |= set(load(path) or {})
    for spec in (load(f"{REPO}/roles/{role}/meta/argument_specs.yml") or {})["argument_specs"].values():
        names |= set(spec.get("options") or {})
    return names


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


def test_the_lab_role_defines_the_lab_wide_settings():
    defaults = set(load(f"{REPO}/roles/lab/defaults/main.yml") or {})
    missing = sorted(LAB_WIDE - defaults)
    assert not missing, f"roles/lab/defaults/main.yml lacks {missing}"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "lab"])
def test_no_other_role_defines_a_lab_variable(role):
    """lab_* belongs to roles/lab; a role named lab_NAME may define its own lab_NAME_*."""
    stray = sorted(n for n in defined_variables(role) if n.startswith("lab_") and not n.startswith(f"{role}_"))
    assert not stray, f"{role} defines {stray}: lab-wide settings are defined in roles/lab only"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "lab"])
def test_roles_that_read_lab_settings_depend_on_the_lab_role(role):
    pattern = re.compile(r"\b(" + "|".join(sorted(LAB_WIDE)) + r")\b")
    readers = sorted({os.path.relpath(path, REPO) for path in role_files(role)
                      if pattern.search(open(path, encoding="utf-8", errors="replace").read())})
    if readers:
        assert "lab" in dependency_closure(role), \
            f"{role} reads lab-wide settings ({', '.join(readers)}) but does not depend on role lab"


@pytest.mark.parametrize("role", LABCTL_USERS)
def test_program_roles_depend_on_labctl(role):
    assert "labctl" in dependency_closure(role), f"{role}: add `- role: labctl` to meta/main.yml"


def test_labctl_role_depends_on_lab():
    assert "lab" in dependency_closure("labctl")


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_files_outside_itself(role):
    """Roles are self-contained: nothing through role_path + '/../..' (the
    repository's sources come from a variable, e.g. labctl_source_dir)."""
    outside = re.compile(r"role_path\b[^\n]*?/\.\./\.\.|role_path\s*\|\s*dirname")
    for path in role_files(role):
        text = open(path, encoding="utf-8", errors="replace").read()
        assert not outside.search(text), f"{os.path.relpath(path, REPO)} reads outside its role"


def test_no_task_or_template_is_repeated_in_another_role():
    """What several roles need lives in one role they depend on (e.g. labctl's wrapper)."""
    owners = {}
    for role in ROLES:
        for path in role_files(role, ("tasks", "templates")):
            digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
            owners.setdefault(digest, []).append(os.path.relpath(path, REPO))
    repeated = [paths for paths in owners.values() if len({p.split("/")[1] for p in paths}) > 1]
    assert not repeated, f"byte-identical in several roles: {repeated}"


def test_ansible_lint_production_profile_has_no_findings():
    """`ansible-lint --profile production` (settings: .ansible-lint) over the
    whole repository: no finding, nothing skipped."""
    venv_bin = os.path.dirname(sys.executable)
    lint = shutil.which("ansible-lint", path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if not lint:
        pytest.skip("ansible-lint is not installed (requirements.txt pins it: make venv)")
    proc = subprocess.run([lint, "--profile", "production", "-f", "pep8", "--nocolor"], cwd=REPO,
                          capture_output=True, text=True, check=False, timeout=1200,
                          env={**os.environ, "ANSIBLE_CONFIG": f"{REPO}/ansible.cfg", "NO_COLOR": "1",
                               "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")])})
    findings = [line for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0 and not findings, "\n".join(findings) + "\n" + proc.stderr[-3000:]
