"""Every lab's grading check, run on the real kernel (each check isolates
itself: its own cgroup, namespaces, veths and pin root):

  negative control: the starter workspace scores below full marks;
  positive control: the reference solution gets full marks.

A lab whose negative control passes has a check that cannot fail."""

import os

import pytest

from labctl import build, grading, labs
from labctl.labs import workspace

from lab_helpers import kernel_ready

pytestmark = pytest.mark.kernel
LABS = sorted(labs.all_labs())


@pytest.fixture(autouse=True)
def _kernel():
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")


def _grade(number, tmp_path, solution):
    module = labs.get(number)
    where = tmp_path / module.LAB.slug
    workspace.write(module, str(where), solution=solution)
    return grading.grade(module.LAB, grading.Env(workspace=str(where)))


def _summary(result):
    return "\n".join(f"{c['name']}: {c['points']}/{c['max_points']} {c['saw']}" for c in result["checks"])


@pytest.mark.parametrize("number", LABS)
def test_starter_scores_below_full_marks(number, tmp_path):
    result = _grade(number, tmp_path, solution=False)
    assert result["score"] < result["max"], _summary(result)
    assert any(c["passed"] for c in result["checks"]), "the starter must build and load:\n" + _summary(result)
    assert all(c["name"] != "cleanup" for c in result["checks"]), _summary(result)


@pytest.mark.parametrize("number", LABS)
def test_reference_solution_gets_full_marks(number, tmp_path):
    if number == 4 and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("lab 4 spreads packets over 2 CPUs: this host has 1")
    result = _grade(number, tmp_path, solution=True)
    assert result["full_marks"] and result["score"] == result["max"], _summary(result)


def test_starter_edits_each_apply_once():
    """Each starter edit matches its reference file exactly once (a stale
    edit would stop `labctl reset`), and changes it."""
    for module in labs.all_labs().values():
        for name, edits in module.STARTER.items():
            assert name in module.FILES and edits, (module.LAB.slug, name)
            with open(os.path.join(build.bpf_dir(), module.SOURCE, name), encoding="utf-8") as f:
                reference = f.read()
            for find, replace in edits:
                assert reference.count(find) == 1 and find != replace, (module.LAB.slug, name, find[:60])
