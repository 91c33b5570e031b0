"""Every package name and distribution path the roles ask for, on every release the README claims.

The supported releases cannot be booted here, so what is known about each one
is written down in tests/distros/<release>.yml: the facts Ansible reports there
(faked below) and the package names, file paths and service names the roles rely
on, each with where it was verified (`source:`; "unverified: ..." where it could
not be). This test loads every role's variables the way the role does (defaults,
vars/main.yml, then the file its include_vars/first_found picks for the faked
facts), renders them with Ansible's own Templar, and checks:

- every value of a variable named *_packages / *_package (also *_packages_default)
  is a package the release's manifest lists;
- every absolute path and every *_service / *_config_file value in a
  per-distribution vars file is one the manifest lists;
- preflight accepts each supported release (and refuses others).
"""

import glob
import os
import re

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from lab_helpers import REPO

# lookups (first_found) and filters resolve as in a playbook run
init_plugin_loader()

DISTROS = f"{REPO}/tests/distros"
RELEASES = sorted(os.path.basename(p)[:-4] for p in glob.glob(f"{DISTROS}/*.yml"))
SUPPORTED = ["debian-12", "ubuntu-22.04", "ubuntu-24.04", "openeuler-22.03", "openeuler-24.03"]
ROLES = sorted(d for d in os.listdir(f"{REPO}/roles") if os.path.isdir(f"{REPO}/roles/{d}"))
PACKAGE_VAR = re.compile(r"_packages?(_default)?$")
# PyPI requirements (juicefs_pip_package, ...) are not distribution packages.
PIP_VAR = re.compile(r"_pip_")
NAMED_VAR = re.compile(r"(_service|_config_file)$")
INCLUDE_VARS = {"ansible.builtin.include_vars", "include_vars"}


def manifest(release):
    with open(f"{DISTROS}/{release}.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def facts_of(release):
    facts = dict(manifest(release)["facts"])
    version = str(facts.pop("python_version"))
    facts["python"] = {"version_info": [int(x) for x in version.split(".")] + ["final", 0],
                       "executable": "/usr/bin/python3"}
    facts["architecture"] = facts.get("architecture", "x86_64")
    return facts


def tasks_of(role):
    """Every task of a role, blocks included."""
    def walk(tasks):
        for task in tasks or []:
            yield task
            for section in ("block", "rescue", "always"):
                yield from walk(task.get(section))
    for path in sorted(glob.glob(f"{REPO}/roles/{role}/tasks/*.yml")):
        with open(path, encoding="utf-8") as f:
            yield from walk(yaml.safe_load(f))


def load_trusted(loader, path):
    return loader.load_from_file(path, trusted_as_template=True) or {}


def templar_for(loader, variables):
    return Templar(loader=loader, variables=variables)


def resolve_role(role, release, extra=None):
    """The role's variables for this release, rendered, plus the per-distribution files loaded.

    Precedence as Ansible applies it: roles/lab defaults (the lab-wide settings
    every role reads), the role's defaults, vars/main.yml, then what
    include_vars loads (highest).
    """
    loader = DataLoader()
    role_path = f"{REPO}/roles/{role}"
    facts = facts_of(release)
    variables = {"ansible_facts": facts, "role_path": role_path, "ansible_managed": "managed"}
    for path in (f"{REPO}/roles/lab/defaults/main.yml", f"{role_path}/defaults/main.yml",
                 f"{role_path}/vars/main.yml"):
        if os.path.exists(path):
            variables.update(load_trusted(loader, path))
    variables.update(extra or {})
    distro_files = []
    for task in tasks_of(role):
        spec = next((task[k] for k in INCLUDE_VARS if k in task), None)
        if not isinstance(spec, dict) or "file" not in spec:
            continue
        task_vars = load_task_vars(loader, task)
        templar = templar_for(loader, {**variables, **task_vars})
        path = templar.template(trust_as_template(spec["file"]))
        if not os.path.isabs(path):
            path = f"{role_path}/vars/{path}"
        distro_files.append(path)
        variables.update(load_trusted(loader, path))
    # What is checked: the package variables and everything the
    # per-distribution files set (other variables may need play context).
    wanted = {name for name in variables if PACKAGE_VAR.search(name) and not PIP_VAR.search(name)}
    for path in distro_files:
        with open(path, encoding="utf-8") as f:
            wanted |= set(yaml.safe_load(f) or {})
    templar = templar_for(loader, variables)
    return {name: templar.template(variables[name]) for name in sorted(wanted)}, distro_files


def render_mirror_sources(release, mirror):
    """package_mirrors' repository definitions for `release`, as its template task writes them."""
    loader = DataLoader()
    lab = {"lab_apt_mirror": mirror, "lab_dnf_mirror": mirror}
    rendered, distro_files = resolve_role("package_mirrors", release, extra=lab)
    variables = {"ansible_facts": facts_of(release), "ansible_managed": "managed",
                 **load_trusted(loader, f"{REPO}/roles/lab/defaults/main.yml"),
                 **load_trusted(loader, f"{REPO}/roles/package_mirrors/defaults/main.yml"), **lab}
    for path in distro_files:
        variables.update(load_trusted(loader, path))
    task = next(t for t in tasks_of("package_mirrors") if "ansible.builtin.template" in t
                and t["ansible.builtin.template"]["src"].startswith("apt" if rendered["package_mirrors_kind"] == "apt" else "openEuler"))
    variables.update(load_task_vars(loader, task))
    # the release directory the role reads from the host's openEuler.repo
    variables["package_mirrors_dnf_release"] = f"openEuler-{facts_of(release)['distribution_version']}-LTS"
    with open(f"{REPO}/roles/package_mirrors/templates/{task['ansible.builtin.template']['src']}", encoding="utf-8") as f:
        text = trust_as_template(f.read())
    return rendered, templar_for(loader, variables).template(text)


def load_task_vars(loader, task):
    """A task's own `vars:` as Ansible would see them (trusted templates)."""
    def trust(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, list):
            return [trust(v) for v in value]
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        return value
    return trust(task.get("vars") or {})


def as_list(value):
    """A package variable's names ("" and None: no package)."""
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else list(value)


def expand(name, facts):
    """A manifest entry may name the running kernel: {kernel}."""
    return name.replace("{kernel}", facts["kernel"])


def test_every_supported_release_has_a_manifest():
    assert RELEASES == sorted(SUPPORTED), f"tests/distros/ has {RELEASES}, README claims {SUPPORTED}"


@pytest.mark.parametrize("release", SUPPORTED)
def test_manifest_entries_say_where_they_were_verified(release):
    data = manifest(release)
    for section in ("packages", "paths", "names"):
        for entry, info in (data.get(section) or {}).items():
            assert isinstance(info, dict) and str(info.get("source", "")).strip(), \
                f"{release}: {section}.{entry} has no source: (write 'unverified: why' if it is not verified)"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("release", SUPPORTED)
def test_role_packages_and_paths_are_in_the_release_manifest(release, role):
    data = manifest(release)
    facts = facts_of(release)
    packages = {expand(p, facts) for p in data.get("packages") or {}}
    paths = {expand(p, facts) for p in data.get("paths") or {}}
    names = set(data.get("names") or {})
    rendered, distro_files = resolve_role(role, release)

    unknown = []
    for var, value in sorted(rendered.items()):
        if PACKAGE_VAR.search(var) and not PIP_VAR.search(var):
            unknown += [f"{var}: package {p!r}" for p in as_list(value) if p not in packages]
    # Paths and names come from the per-distribution files: those are the
    # distribution's facts (vars/main.yml holds the lab's own paths).
    distro_vars = set()
    for path in distro_files:
        with open(path, encoding="utf-8") as f:
            distro_vars |= set(yaml.safe_load(f) or {})
    for var in sorted(distro_vars):
        value = rendered.get(var)
        if isinstance(value, str) and value.startswith("/"):
            if value not in paths:
                unknown.append(f"{var}: path {value!r}")
        elif NAMED_VAR.search(var) and isinstance(value, str) and value not in names:
            unknown.append(f"{var}: name {value!r}")
    assert not unknown, (
        f"roles/{role} on {release} ({', '.join(os.path.relpath(p, REPO) for p in distro_files)}) "
        f"asks for what tests/distros/{release}.yml does not list (verify it, then add it "
        f"with its source): " + "; ".join(unknown))


@pytest.mark.parametrize("release", SUPPORTED)
def test_afxdp_support_matches_the_manifest(release):
    """AF_XDP runs where the release has libxdp, and is skipped (reported) where not."""
    data = manifest(release)
    rendered, _ = resolve_role("bpf_afxdp", release)
    assert rendered["bpf_afxdp_supported"] is data["afxdp_supported"], release
    if not data["afxdp_supported"]:
        assert rendered["bpf_afxdp_packages"] == []
        assert rendered.get("bpf_afxdp_unsupported_reason")


def preflight_checks(facts):
    """The preflight role's distribution/release/Python assertions, rendered for `facts`."""
    loader = DataLoader()
    variables = {"ansible_facts": facts, **load_trusted(loader, f"{REPO}/roles/preflight/defaults/main.yml")}
    templar = templar_for(loader, variables)
    results = []
    for task in tasks_of("preflight"):
        check = task.get("ansible.builtin.assert")
        if not check or not task["name"].startswith(("Require a supported distribution", "Require a recent")):
            continue
        for expr in as_list(check["that"]):
            results.append(templar.evaluate_conditional(trust_as_template(expr)))
    assert len(results) == 3, "preflight's distribution, release and Python checks moved: update this test"
    return results


@pytest.mark.parametrize("release", SUPPORTED)
def test_preflight_accepts_every_supported_release(release):
    assert all(preflight_checks(facts_of(release))), release


@pytest.mark.parametrize("change", [
    {"distribution": "Ubuntu", "distribution_version": "20.04", "distribution_major_version": "20"},
    {"distribution": "CentOS", "distribution_version": "9", "distribution_major_version": "9"},
    {"distribution": "Debian", "distribution_version": "11.9", "distribution_major_version": "11"},
    {"python": {"version_info": [3, 8, 10, "final", 0], "executable": "/usr/bin/python3"}},
])
def test_preflight_refuses_unsupported_releases_and_old_python(change):
    facts = {**facts_of("ubuntu-24.04"), **change}
    assert not all(preflight_checks(facts)), change


MIRROR = "http://mirrors.example.edu/dist"


@pytest.mark.parametrize("release", SUPPORTED)
def test_mirror_sources_name_every_archive_and_nothing_upstream(release):
    """With a mirror set, the written sources cover archive, updates and security; dnf: no metalink."""
    rendered, text = render_mirror_sources(release, MIRROR)
    facts = facts_of(release)
    if rendered["package_mirrors_kind"] == "apt":
        stanzas = [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith("#"))
                   for block in text.split("\n\n")]
        assert stanzas[0]["URIs"] == MIRROR
        assert stanzas[0]["Suites"].split()[:2] == [facts["distribution_release"], facts["distribution_release"] + "-updates"]
        assert stanzas[1]["Suites"] == facts["distribution_release"] + "-security"
        assert stanzas[1]["URIs"] == rendered["package_mirrors_apt_security_upstream"]
        assert all(s["Signed-By"] == rendered["package_mirrors_keyring"] for s in stanzas)
    else:
        assert "metalink" not in text.replace("No metalink= lines", "")
        baseurls = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("baseurl=")]
        assert len(baseurls) == len(rendered["package_mirrors_dnf_repositories"])
        assert all(u.startswith(f"{MIRROR}/openEuler-{facts['distribution_version']}-LTS/") for u in baseurls), baseurls
        assert not any(h in text for h in rendered["package_mirrors_upstream_hosts"])
