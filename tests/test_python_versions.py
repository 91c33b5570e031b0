"""What runs on lab hosts runs with the distro's python3 of every supported
release: the oldest is openEuler 22.03's Python 3.9. vermin (PyPI) finds the
minimum version a module needs, annotations included."""

import shutil
import subprocess
import sys

import pytest

from lab_helpers import REPO

OLDEST = "3.9"
# Shipped to lab hosts: labctl and labrigs (the labctl role: the CLI, the
# grader's rigs, the traffic tools) and the DisGraFS server (the disgrafs role).
ON_HOSTS = ["labctl", "labrigs", "disgrafs"]


def vermin() -> str:
    path = shutil.which("vermin") or shutil.which("vermin", path=sys.prefix + "/bin")
    if not path:
        pytest.fail("vermin is missing: run `make venv` (requirements.txt pins it)")
    return path


@pytest.mark.parametrize("target", ON_HOSTS)
def test_runs_on_the_oldest_supported_python(target):
    proc = subprocess.run([vermin(), "--no-tips", "--eval-annotations", "--violations",
                           f"--target={OLDEST}-", target], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"{target} needs a Python newer than {OLDEST}:\n{proc.stdout}{proc.stderr}"
