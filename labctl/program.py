"""The interface every program module (labctl/programs/NAME.py) implements.

Attributes:
    NAME            the program's name (bpf/NAME/, /etc/disgrafs-lab/NAME.json)
    DESCRIPTION     one line for `labctl --help`
    Settings        a dataclass (subclass of settings.ProgramSettings)
    OPTIONS         {option: argparse keyword arguments} of the command-line
                    options it reads (e.g. {"port": {"type": int, "help": ...}});
                    pin_root and build_dir are common to all programs

Functions (settings is the program's Settings):
    load_settings(config_file=None, **overrides) -> Settings
    build(settings, force=False) -> (path, changed)
    attach(settings) -> {"changed": bool, **status}   idempotent
    detach(settings) -> {"changed": bool, ...}        idempotent
    status(settings) -> dict                          what is loaded/attached, counters
    describe(info) -> str                             status() for people
    metrics(settings) -> iterable of prometheus_client metric families

Optional:
    run(settings) -> int                  its daemon in the foreground (systemd units)
    reset(settings) -> dict               zero its counters/histograms
    register(subparsers, parents) -> None extra commands; each sets
                                          func(settings, args) and program=NAME

A program module never imports the CLI: the CLI resolves settings and
passes them in.
"""

from __future__ import annotations

from types import ModuleType

from .errors import LabError

REQUIRED = ("NAME", "DESCRIPTION", "Settings", "OPTIONS", "load_settings", "build", "attach",
            "detach", "status", "describe", "metrics")


def check_interface(module: ModuleType) -> None:
    missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
    if missing:
        raise LabError(f"program module {module.__name__} lacks {missing} (see labctl/program.py)")
