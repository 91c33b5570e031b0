#!/usr/bin/env python3
"""The class's grade report from each server's `labctl check --json`
(playbooks/grade.yml fetches them): one row per student with per-lab scores,
written as CSV, JSON and Markdown. A server whose result is missing is
reported as unreachable, never as zero.

    class_report.py --results DIR --hosts server-a,server-b [--students a=alice,b=bob] --out DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

SCHEMA = "disgrafs-lab/check/v1"


def load(results_dir: str, host: str) -> dict | None:
    path = os.path.join(results_dir, f"{host}.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if data.get("schema") == SCHEMA else None


def _error(results_dir: str, host: str) -> str:
    try:
        with open(os.path.join(results_dir, f"{host}.error"), encoding="utf-8") as f:
            return " ".join(f.read().split())
    except OSError:
        return ""


def rows(results_dir: str, hosts: list[str], students: dict[str, str]) -> tuple[list[int], list[dict]]:
    """(lab numbers, one row per host in the given order)."""
    results = {h: load(results_dir, h) for h in hosts}
    labs = sorted({lab["lab"] for r in results.values() if r for lab in r["labs"]})
    out = []
    for host in hosts:
        r = results[host]
        row = {"student": students.get(host) or host, "server": host}
        if r is None:
            error = _error(results_dir, host)
            row.update(status=f"error: {error}" if error else "unreachable", total="", max="")
            row.update({f"lab{n:02d}": "" for n in labs})
        else:
            by_lab = {lab["lab"]: lab for lab in r["labs"]}
            row.update(status="graded", total=r["score"], max=r["max"], graded_at=r.get("time", ""))
            for n in labs:
                lab = by_lab.get(n)
                row[f"lab{n:02d}"] = f"{lab['score']}/{lab['max']}" if lab else ""
        out.append(row)
    return labs, out


def write(out_dir: str, labs: list[int], table: list[dict]) -> None:
    os.makedirs(out_dir, exist_ok=True)
    columns = ["student", "server", "status"] + [f"lab{n:02d}" for n in labs] + ["total", "max"]
    with open(os.path.join(out_dir, "grades.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table)
    with open(os.path.join(out_dir, "grades.json"), "w", encoding="utf-8") as f:
        json.dump({"labs": labs, "students": table}, f, indent=2)
    graded = sum(r["status"] == "graded" for r in table)
    unreachable = sum(r["status"] == "unreachable" for r in table)
    lines = ["# Class grade report", "",
             f"{graded} of {len(table)} servers graded; {unreachable} unreachable, "
             f"{len(table) - graded - unreachable} with an error (not graded, not zero).", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in table]
    with open(os.path.join(out_dir, "grades.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="directory of HOST.json (labctl check --json)")
    ap.add_argument("--hosts", required=True, help="comma-separated servers, in report order")
    ap.add_argument("--students", default="", help="comma-separated host=student_id pairs")
    ap.add_argument("--out", required=True, help="where grades.{csv,json,md} go")
    args = ap.parse_args(argv)
    hosts = [h for h in args.hosts.split(",") if h]
    students = dict(p.split("=", 1) for p in args.students.split(",") if "=" in p)
    labs, table = rows(args.results, hosts, students)
    write(args.out, labs, table)
    sys.stdout.write(open(os.path.join(args.out, "grades.md"), encoding="utf-8").read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
