"""The class report from labctl check --json results: one row per student,
per-lab scores, and an unreachable server reported as unreachable, not 0."""

import csv
import json
import subprocess
import sys

from lab_helpers import REPO


def result(scores: dict) -> dict:
    labs = [{"lab": n, "name": f"lab{n}", "title": "", "workspace": "", "score": s, "max": 10,
             "full_marks": s == 10, "seconds": 1, "checks": []} for n, s in scores.items()]
    return {"schema": "disgrafs-lab/check/v1", "labctl": "0.2.0", "host": "h", "kernel": "k",
            "time": "2026-12-01T10:00:00+0000", "labs": labs,
            "score": sum(scores.values()), "max": 10 * len(scores), "full_marks": False}


def test_rows_per_student_and_unreachable_is_not_zero(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "srv-alice.json").write_text(json.dumps(result({1: 10, 3: 4})))
    (results / "srv-bob.json").write_text(json.dumps(result({1: 5, 3: 4})))
    (results / "srv-dave.error").write_text("labctl: error: no workspace\n")
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, f"{REPO}/scripts/class_report.py", "--results", str(results),
                           "--hosts", "srv-alice,srv-bob,srv-carol,srv-dave",
                           "--students", "srv-alice=alice,srv-bob=bob,srv-carol=", "--out", str(out)],
                          capture_output=True, text=True, check=True)
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert [r["student"] for r in rows] == ["alice", "bob", "srv-carol", "srv-dave"]
    assert rows[0]["lab01"] == "10/10" and rows[1]["lab01"] == "5/10" and rows[1]["lab03"] == "4/10"
    assert rows[2]["status"] == "unreachable" and rows[2]["total"] == "" and rows[2]["lab01"] == ""
    data = json.loads((out / "grades.json").read_text())
    assert data["labs"] == [1, 3] and data["students"][0]["total"] == 14
    assert rows[3]["status"] == "error: labctl: error: no workspace"
    assert "2 of 4 servers graded; 1 unreachable, 1 with an error" in proc.stdout
