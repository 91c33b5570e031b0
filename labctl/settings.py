"""Where a program's settings come from and the paths derived from them.

Settings of program NAME: dataclass defaults < /etc/disgrafs-lab/NAME.json
(written by the program's role) < command-line options.
"""

import json
import os
from dataclasses import asdict, fields
from typing import Optional

from .errors import LabError
from .pins import Pins

DEFAULT_PIN_ROOT = "/sys/fs/bpf/disgrafs-lab"
DEFAULT_BUILD_DIR = "/var/lib/disgrafs-lab/build"
CONFIG_DIR = "/etc/disgrafs-lab"
RUN_DIR = "/run/disgrafs-lab"
LOG_DIR = "/var/log/disgrafs-lab"


class ProgramSettings:
    """Paths that each program's Settings derives from its own fields.
    Subclasses are dataclasses that set PROGRAM (unannotated: not a field)
    and have pin_root and build_dir, plus interface and run_dir where the
    program uses them."""

    PROGRAM = ""

    @property
    def pins(self) -> Pins:
        return Pins(self.pin_root, self.PROGRAM)

    @property
    def iface(self) -> str:
        from .net import default_iface  # only programs on an interface need it
        return self.interface or default_iface()

    def _run_file(self, suffix: str) -> str:
        return os.path.join(self.run_dir, f"{self.PROGRAM}{suffix}")

    @property
    def pid_path(self) -> str:
        return self._run_file(".pid")

    @property
    def state_path(self) -> str:
        return self._run_file(".json")

    @property
    def stats_path(self) -> str:
        return self._run_file(".stats.json")

    @property
    def log_path(self) -> str:
        return self._run_file(".log")


def config_path(name: str, config_dir: str = CONFIG_DIR) -> str:
    return os.path.join(config_dir, f"{name}.json")


def load(cls, name: str, config_file: Optional[str], overrides: dict):
    """Defaults < config file (written by the role) < command-line overrides.
    config_file None: the default file; "": no file at all."""
    if config_file is None:
        config_file = config_path(name)
    values = {}
    if config_file and os.path.exists(config_file):
        with open(config_file, encoding="utf-8") as f:
            try:
                values.update(json.load(f))
            except ValueError as exc:
                raise LabError(f"{config_file} is not valid JSON ({exc}): fix it or re-run the role") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise LabError(f"unknown {name} setting(s) {sorted(unknown)} in {config_file or 'the arguments'}: "
                       f"known are {sorted(known)}")
    return cls(**values)


def check_port(value, what: str, allow_zero: bool = False) -> None:
    """A TCP/UDP port number (0 only where it means "any")."""
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 65535:
        extra = ", or 0 for any" if allow_zero else ""
        raise LabError(f"invalid port {value!r}: {what}, 1-65535{extra}")


def as_dict(settings) -> dict:
    return asdict(settings)
