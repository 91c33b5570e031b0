"""Course mode's commands: `labctl check [N ...]` grades labs in the
students' workspaces, `labctl reset N` puts one lab's workspace back to its
starter. Where the workspaces are: /etc/disgrafs-lab/course.json
({"labs_dir": ...}, written by the course role), else /home/student/labs.
"""

from __future__ import annotations

import json
import os
import sys

from . import files, grading, labs, settings
from .errors import LabError
from .labs import workspace

DEFAULT_LABS_DIR = "/home/student/labs"


def labs_dir(args) -> str:
    if args.labs_dir:
        return args.labs_dir
    return files.read_json(settings.config_path("course", args.config_dir)).get("labs_dir", DEFAULT_LABS_DIR)


def _workspace(args, module) -> str:
    if args.workspace:
        return os.path.abspath(args.workspace)
    return os.path.join(labs_dir(args), module.LAB.slug)


def cmd_check(args) -> int:
    numbers = args.lab or list(labs.all_labs())
    if args.workspace and len(numbers) != 1:
        raise LabError("--workspace names one lab's workspace: give one lab number too")
    results = []
    for number in numbers:
        module = labs.get(number)
        where = _workspace(args, module)
        if not os.path.isdir(where):
            raise LabError(f"no workspace {where} for lab {number}: run `labctl reset {number}` "
                           "(course mode creates them)")
        results.append(grading.grade(module.LAB, grading.Env(workspace=where)))
    result = grading.report(results)
    if args.output:
        files.write_json(args.output, result)
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else grading.text(result))
    return 0 if result["full_marks"] else 1


def cmd_reset(args) -> int:
    module = labs.get(args.lab)
    where = _workspace(args, module)
    written = workspace.write(module, where, solution=args.solution)
    what = "reference solution" if args.solution else "starter"
    result = {"lab": args.lab, "workspace": where, "files": written, "wrote": what}
    print(json.dumps(result, indent=2) if args.json else
          f"lab {args.lab}: wrote the {what} to {where} ({', '.join(written)})")
    return 0


def cmd_labs(args) -> int:
    """The labs and what each check verifies (docs/ta.md is generated from the same)."""
    out = {n: {"slug": m.LAB.slug, "title": m.LAB.title, "max": m.LAB.max_points,
               "checks": [{"name": c.name, "points": c.points, "verifies": c.verifies,
                           "requires": list(c.requires)} for c in m.LAB.checks]}
           for n, m in labs.all_labs().items()}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for n, lab in out.items():
            print(f"Lab {n:02d} {lab['title']} ({lab['max']} points)")
            for c in lab["checks"]:
                print(f"  {c['name']:<24} {c['points']}  {c['verifies']}")
    sys.stdout.flush()
    return 0


def register(sub, parents) -> None:
    def common(p):
        p.add_argument("--labs-dir", help=f"where the workspaces are (default: course.json, else {DEFAULT_LABS_DIR})")
        p.add_argument("--workspace", help="this directory is the lab's workspace")
    p = sub.add_parser("check", parents=parents, help="grade labs: named checks, points, exit 0 only on full marks")
    p.add_argument("lab", nargs="*", type=int, help="lab numbers (default: every lab)")
    p.add_argument("--output", help="also write the JSON result to this file")
    common(p)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("reset", parents=parents, help="put one lab's workspace back to its starter code")
    p.add_argument("lab", type=int)
    p.add_argument("--solution", action="store_true", help="write the reference solution instead (TAs)")
    common(p)
    p.set_defaults(func=cmd_reset)
    p = sub.add_parser("labs", parents=parents, help="the labs and what each check verifies")
    p.set_defaults(func=cmd_labs)
