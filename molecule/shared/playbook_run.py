"""Run a repository playbook against the scenario's own hosts from a
testinfra check (molecule sets MOLECULE_INVENTORY_FILE during verify), and
count what it changed. Shared by every scenario's teardown checks; found
through `pythonpath` in pyproject.toml."""

import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run_playbook(playbook: str) -> str:
    """Run REPO/playbook; fail the test with its output if it fails."""
    proc = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
         os.path.join(REPO, playbook)],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": os.path.join(REPO, "roles"),
             "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def recap_changed(output: str) -> int:
    """Sum of changed=N over the PLAY RECAP lines."""
    return sum(int(part.split("=")[1]) for line in output.splitlines() if "changed=" in line
               for part in line.split() if part.startswith("changed="))
