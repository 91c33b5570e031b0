"""Course mode on the lab server (mol-course-server): workspaces, nothing of
the exercises attached, and every lab's grader run on the lab as
provisioned: the starter below full marks, the reference solution full marks,
nothing left attached afterwards."""

import json
import os

import pytest
import testinfra

LABS_DIR = "/home/student/labs"


@pytest.fixture(scope="module")
def server():
    return testinfra.get_hosts(["ansible://lab_server"],
                               ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])[0]


@pytest.fixture(scope="module")
def catalog(server):
    return json.loads(server.check_output("labctl labs --json"))


def test_every_lab_has_a_starter_workspace_of_the_student(server, catalog):
    assert len(catalog) >= 6
    for number, lab in catalog.items():
        ws = server.file(f"{LABS_DIR}/{lab['slug']}")
        assert ws.is_directory and ws.user == "student", lab["slug"]
        assert server.file(f"{LABS_DIR}/{lab['slug']}/Makefile").exists
        assert "TODO(lab" in server.check_output(f"cat {LABS_DIR}/{lab['slug']}/*"), lab["slug"]


def test_no_exercise_program_is_attached(server):
    status = json.loads(server.check_output("labctl status --json"))
    for program in ("sockredir", "redis_latency", "http_filter", "xdp_cpumap", "afxdp"):
        assert status[program]["loaded"] is False, program


def test_the_student_builds_a_workspace_with_make(server):
    out = server.run(f"sudo -u student -H make -C {LABS_DIR}/01-sockredir")
    assert out.rc == 0, out.stdout + out.stderr
    assert "sockredir.bpf.o" in server.check_output(f"ls {LABS_DIR}/01-sockredir/.build/*/")


def _check(server, number, workspace=None):
    extra = f" --workspace {workspace}" if workspace else ""
    out = server.run(f"labctl check {number} --json{extra}")
    result = json.loads(out.stdout)
    return out.rc, result["labs"][0]


@pytest.mark.parametrize("number", [0, 1, 3, 4, 5, 6])
def test_controls_on_the_lab(server, number):
    rc, starter = _check(server, number)
    assert rc == 1 and starter["score"] < starter["max"], starter
    ref = f"/tmp/reference-{number}"
    server.check_output(f"labctl reset {number} --solution --workspace {ref}")
    rc, solved = _check(server, number, ref)
    assert rc == 0 and solved["score"] == solved["max"], solved
    assert server.check_output("ls /sys/fs/bpf | grep -c grade || true").strip() == "0"


def test_reset_puts_the_starter_back(server):
    path = f"{LABS_DIR}/03-http-filter/http_filter.bpf.c"
    server.check_output(f"sh -c 'echo broken > {path}'")
    server.check_output("labctl reset 3")
    assert "TODO(lab 3)" in server.file(path).content_string
    assert server.file(path).user == "student"
