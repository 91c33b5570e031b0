"""The course's labs: each is a module here (lab_NN_name.py) that says which
reference files make its workspace, how the starter differs from them, and
its graded checks (labctl/grading.py). `labctl check`, `labctl reset` and
the course role find labs only through this registry.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ORDER = ("lab_00_hello", "lab_01_sockredir", "lab_03_http_filter", "lab_04_xdp_cpumap", "lab_05_afxdp",
         "lab_06_redis_latency")

_loaded: dict[int, ModuleType] = {}


def all_labs() -> dict[int, ModuleType]:
    """{number: module} of every lab, in ORDER."""
    if not _loaded:
        for name in ORDER:
            module = importlib.import_module(f"{__name__}.{name}")
            _loaded[module.LAB.number] = module
    return dict(_loaded)


def get(number: int) -> ModuleType:
    labs = all_labs()
    if number not in labs:
        from ..errors import LabError
        raise LabError(f"there is no lab {number}: the labs are {', '.join(map(str, labs))}")
    return labs[number]
