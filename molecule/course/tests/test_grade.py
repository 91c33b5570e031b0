"""playbooks/grade.yml against the course scenario's server plus a server
that does not exist: the class report grades the first (starter code: below
full marks) and reports the second as unreachable, not as zero."""

import csv
import json
import os
import subprocess

from playbook_run import REPO


def test_class_report_grades_and_reports_unreachable(tmp_path):
    ghost = tmp_path / "ghost.yml"
    # SSH to a closed port on loopback: refused at once, so Ansible reports it unreachable
    ghost.write_text("all:\n  children:\n    lab_server:\n      hosts:\n        ghost-server:\n"
                     "          ansible_connection: ssh\n          ansible_host: 127.0.0.1\n"
                     "          ansible_port: 1\n          student_id: ghost\n")
    env = {**os.environ, "GRADES_DIR": str(tmp_path / "grades"),
           "ANSIBLE_ROLES_PATH": os.path.join(REPO, "roles"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", str(ghost),
                           os.path.join(REPO, "playbooks/grade.yml")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]  # unreachable is reported, not fatal
    rows = {r["server"]: r for r in csv.DictReader(open(tmp_path / "grades" / "grades.csv", encoding="utf-8"))}
    assert rows["ghost-server"]["status"] == "unreachable" and rows["ghost-server"]["total"] == ""
    graded = [r for s, r in rows.items() if s != "ghost-server"]
    assert len(graded) == 1 and graded[0]["status"] == "graded"
    assert int(graded[0]["total"]) < int(graded[0]["max"])
    data = json.loads((tmp_path / "grades" / "grades.json").read_text())
    assert len(data["labs"]) >= 6
