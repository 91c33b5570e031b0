"""The registry of programs. Each program is a module here that implements
the interface described in labctl/program.py; the CLI, the exporter and the
roles find programs only through this registry.

To add a program: write labctl/programs/NAME.py and bpf/NAME/, then add NAME
to ORDER (the order `labctl status` shows them in).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..program import check_interface

ORDER = ("sockredir", "redis_latency", "http_filter", "xdp_cpumap", "afxdp", "analysis")

_loaded: dict[str, ModuleType] = {}


def all_programs() -> dict[str, ModuleType]:
    """{name: module} of every program, in ORDER."""
    if not _loaded:
        for name in ORDER:
            module = importlib.import_module(f"{__name__}.{name}")
            check_interface(module)
            _loaded[name] = module
    return dict(_loaded)


def get(name: str) -> ModuleType:
    return all_programs()[name]


def with_hook(hook: str) -> list[str]:
    """Names of the programs that have `hook` (e.g. "run", "reset")."""
    return [name for name, module in all_programs().items() if callable(getattr(module, hook, None))]
