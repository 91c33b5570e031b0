"""The pin layout of one program under a bpffs pin root:

    PIN_ROOT/NAME/progs/*   pinned programs
    PIN_ROOT/NAME/maps/*    pinned maps
    PIN_ROOT/NAME/links/*   pinned bpf_links (tracepoints)
"""

import os
import shutil
from typing import Optional

from . import bpftool


class Pins:
    """Pin paths of one program under a pin root."""

    def __init__(self, pin_root: str, name: str):
        self.root = pin_root
        self.name = name
        self.dir = os.path.join(pin_root, name)
        self.progs = os.path.join(self.dir, "progs")
        self.maps = os.path.join(self.dir, "maps")
        self.links = os.path.join(self.dir, "links")

    def prog(self, name: str) -> str:
        return os.path.join(self.progs, name)

    def map(self, name: str) -> str:
        return os.path.join(self.maps, name)

    def link(self, name: str) -> str:
        return os.path.join(self.links, name)


def loadall(obj: str, pins: Pins) -> None:
    """Load every program of `obj` and pin programs and maps."""
    os.makedirs(pins.dir, exist_ok=True)  # bpftool needs the parent to exist
    bpftool.run("prog", "loadall", obj, pins.progs, "pinmaps", pins.maps)


def remove(pins: Pins) -> bool:
    """Unpin everything of the program (dropping links detaches tracepoints)."""
    if not os.path.isdir(pins.dir):
        return False
    shutil.rmtree(pins.dir)
    try:
        os.rmdir(pins.root)  # only if no other program of ours is pinned
    except OSError:
        pass
    return True


def prog_id(path: str) -> Optional[int]:
    if not os.path.exists(path):
        return None
    return bpftool.prog_show_pinned(path)["id"]


def status(program: str, pins: Pins, loaded: bool, details) -> dict:
    """Every program's status: name, pin path, loaded; and, only when it is
    loaded, what details() (the program's own reading of its pins) adds."""
    info = {"name": program, "pin_path": pins.dir, "loaded": loaded}
    if loaded:
        info.update(details())
    return info


def programs_info(pins: Pins, names) -> list[dict]:
    """[{name, id, pinned}] of the pinned programs `names`."""
    return [{"name": n, "id": prog_id(pins.prog(n)), "pinned": pins.prog(n)} for n in names]
