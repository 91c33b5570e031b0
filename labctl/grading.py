"""The grader behind `labctl check`: named checks with points, prerequisites
and a time limit each, run against one student's workspace.

A lab (labctl/labs/NN_name.py) lists its checks in order. A check whose
prerequisite failed fails too and says so. Each check returns what it saw
(shown on success too) or raises Failed with what it saw and a hint.
The result is the stable JSON that class-wide reports read (docs/ta.md).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

from . import __version__
from .errors import LabError

SCHEMA = "disgrafs-lab/check/v1"


class Failed(Exception):
    """A check saw something else than it wanted: `saw` says what, `hint` what to do."""

    def __init__(self, saw: str, hint: str = ""):
        super().__init__(saw)
        self.saw, self.hint = saw, hint


@dataclass
class Check:
    name: str
    points: int
    verifies: str                      # what it verifies, for the TA guide and --list
    run: Callable                      # run(env) -> str (what it saw)
    requires: tuple = ()
    timeout: float = 120
    hint: str = ""                     # default hint when it fails


@dataclass
class Lab:
    number: int
    name: str
    title: str
    checks: list
    prepare: Callable | None = None    # prepare(env): measured services to a known state
    cleanup: Callable | None = None    # cleanup(env): nothing the grader attached stays

    @property
    def slug(self) -> str:
        return f"{self.number:02d}-{self.name}"

    @property
    def max_points(self) -> int:
        return sum(c.points for c in self.checks)


@dataclass
class Env:
    """Where a lab is graded: the student's workspace for it, and the kernel
    objects the grader may use (its own pin root and build directory; the
    cgroup and network namespace the traffic runs in)."""
    workspace: str                     # e.g. /home/student/labs/01-sockredir
    pin_root: str = "/sys/fs/bpf/disgrafs-lab-grading"
    build_dir: str = ""                # default: WORKSPACE/.build
    cgroup: str = ""                   # "": the lab's slice (each lab says which)
    netns: str = ""                    # "": this network namespace
    interface: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.build_dir:
            self.build_dir = os.path.join(self.workspace, ".build")

    def in_netns(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *argv] if self.netns else list(argv)

    def in_cgroup(self, argv: list[str], cgroup: str) -> list[str]:
        """argv run inside `cgroup` (and the env's netns): the shell joins
        the cgroup, then execs (works with and without systemd)."""
        return self.in_netns(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, *argv])


def release_rig(env: Env, detach: Callable, *dirs: str) -> None:
    """A lab's cleanup: detach what it attached, then always close its rig
    (env.extra["rig"]) and remove its directories (env.extra[key])."""
    if not env.extra.get("rig"):
        return
    try:
        detach()
    finally:
        env.extra.pop("rig").close()
        for key in dirs:
            shutil.rmtree(env.extra.get(key, ""), ignore_errors=True)


def compiled(obj: str, what: str = "") -> str:
    return f"compiled {os.path.basename(obj)}{what}"


def attach_in(rig, program: str, *args: str, hint: str = "") -> dict:
    """`labctl attach PROGRAM --json ARGS` inside a rig's server namespace."""
    proc = rig.labctl("attach", program, "--json", *args)
    if proc.returncode != 0:
        raise Failed(f"labctl attach {program} failed: {proc.stderr.strip()[-400:]}", hint)
    return json.loads(proc.stdout)


class _Timeout(Exception):
    pass


def _alarm(_signum, _frame):
    raise _Timeout()


def _run_one(check: Check, env: Env) -> tuple[bool, str, str]:
    """(passed, saw, hint) of one check, within its time limit."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, check.timeout)
    try:
        saw = check.run(env)
        return True, saw or "ok", ""
    except Failed as exc:
        return False, exc.saw, exc.hint or check.hint
    except _Timeout:
        return False, f"no result within {check.timeout:.0f} s", check.hint or "does it hang or loop?"
    except LabError as exc:
        return False, str(exc), check.hint
    except Exception as exc:  # noqa: BLE001 (a grader must report, not crash)
        tail = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return False, f"the check itself failed: {type(exc).__name__}: {exc} ({tail})", \
            "if this repeats on a fresh lab, the lab is broken, not your code: tell a TA"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def grade(lab: Lab, env: Env) -> dict:
    """Run every check of `lab` in order; the lab's result as a dict."""
    results, passed = [], set()
    started = time.monotonic()
    prepared, prepare_error = True, ""
    if lab.prepare:
        ok, saw, _ = _run_one(Check("prepare", 0, "", lambda e: lab.prepare(e) or "ok", timeout=300), env)
        prepared, prepare_error = ok, saw
    try:
        for check in lab.checks:
            t0 = time.monotonic()
            missing = [r for r in check.requires if r not in passed]
            if not prepared:
                ok, saw, hint = False, f"the lab could not be prepared for grading: {prepare_error}", \
                    "the lab itself is not in a state to grade: see docs/ta.md"
            elif missing:
                ok, saw, hint = False, f"not run: prerequisite {', '.join(missing)} failed", \
                    f"fix {missing[0]} first"
            else:
                ok, saw, hint = _run_one(check, env)
            if ok:
                passed.add(check.name)
            results.append({"name": check.name, "verifies": check.verifies,
                            "points": check.points if ok else 0, "max_points": check.points,
                            "passed": ok, "saw": saw, "hint": "" if ok else hint,
                            "seconds": round(time.monotonic() - t0, 2)})
    finally:
        if lab.cleanup:
            try:
                lab.cleanup(env)
            except Exception as exc:  # noqa: BLE001 (reported, never hides the score)
                results.append({"name": "cleanup", "verifies": "nothing the grader attached stays",
                                "points": 0, "max_points": 0, "passed": False,
                                "saw": f"cleanup failed: {exc}", "hint": "labctl status; tell a TA",
                                "seconds": 0})
    score = sum(r["points"] for r in results)
    return {"lab": lab.number, "name": lab.name, "title": lab.title, "workspace": env.workspace,
            "score": score, "max": lab.max_points, "full_marks": score == lab.max_points,
            "seconds": round(time.monotonic() - started, 2), "checks": results}


def report(labs: list[dict]) -> dict:
    """The stable JSON of `labctl check --json` (docs/ta.md)."""
    return {"schema": SCHEMA, "labctl": __version__, "host": platform.node(),
            "kernel": platform.release(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "labs": labs, "score": sum(r["score"] for r in labs), "max": sum(r["max"] for r in labs),
            "full_marks": all(r["full_marks"] for r in labs)}


def text(result: dict) -> str:
    """What a student and a TA read."""
    lines = []
    for lab in result["labs"]:
        lines.append(f"Lab {lab['lab']:02d} ({lab['title']}): {lab['workspace']}")
        for c in lab["checks"]:
            mark = "PASS" if c["passed"] else "FAIL"
            lines.append(f"  [{mark}] {c['name']:<28} {c['points']}/{c['max_points']}  {c['saw']}")
            if not c["passed"] and c["hint"]:
                lines.append(f"         hint: {c['hint']}")
        lines.append(f"Lab {lab['lab']} score: {lab['score']}/{lab['max']}")
    lines.append(f"Total score: {result['score']}/{result['max']}")
    return "\n".join(lines)
