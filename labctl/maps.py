"""Reading and writing the programs' pinned maps (through bpftool's JSON),
and the names of each program's counters, read from its C header."""

from __future__ import annotations

import functools
import os
import re

from . import bpftool
from .build import source_dir
from .errors import LabError


@functools.lru_cache(maxsize=None)
def stat_names(program: str) -> tuple[str, ...]:
    """Names of the program's per-CPU counters, in index order, from
    `enum stat_index { STAT_A, STAT_B, ..., STAT_MAX }` in bpf/PROGRAM/PROGRAM.h
    (STAT_SOCKETS_ADDED -> "sockets_added")."""
    header = os.path.join(source_dir(program), f"{program}.h")
    try:
        with open(header, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise LabError(f"cannot read {header} ({exc.strerror}): reinstall the lab's bpf/ directory") from None
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    m = re.search(r"enum\s+stat_index\s*\{([^}]*)\}", text)
    if not m:
        raise LabError(f"{header} has no `enum stat_index {{ ... }}`")
    names = []
    for member in m.group(1).split(","):
        ident = member.split("=")[0].strip()
        if not ident:
            continue
        if ident == "STAT_MAX":
            break
        if not ident.startswith("STAT_"):
            raise LabError(f"{header}: enum stat_index member {ident} does not start with STAT_")
        names.append(ident[len("STAT_"):].lower())
    return tuple(names)


def percpu_counters(path: str, names: tuple[str, ...]) -> dict[str, int]:
    """{name: sum over CPUs} of a per-CPU array indexed by `names`."""
    result = dict.fromkeys(names, 0)
    if not os.path.exists(path):
        return result
    for entry in bpftool.map_dump_pinned(path):
        index = bpftool.entry_int(entry, "key")
        if index < len(names):
            result[names[index]] = bpftool.percpu_sum(entry)
    return result


def percpu_values(entry: dict) -> list:
    """Per-CPU values of a map entry as bpftool formats them (BTF)."""
    return [v["value"] for v in entry["formatted"]["values"]]


def u32_key(index: int) -> list[str]:
    return bpftool.hex_bytes(index.to_bytes(4, "little"))


def array_u32_set(path: str, index: int, value: int) -> None:
    bpftool.run("map", "update", "pinned", path, "key", *u32_key(index),
                "value", *bpftool.hex_bytes(value.to_bytes(4, "little")))


def array_u32_get(path: str, index: int = 0) -> int:
    return bpftool.entry_int(bpftool.run("map", "lookup", "pinned", path, "key", *u32_key(index)), "value")


def lookup_raw(path: str, index: int = 0) -> bytes:
    """The value bytes of entry `index` of an array map."""
    out = bpftool.run("map", "lookup", "pinned", path, "key", *u32_key(index))
    return bytes(int(b, 16) for b in out["value"])


def update_raw(path: str, index: int, value: bytes) -> None:
    bpftool.run("map", "update", "pinned", path, "key", *u32_key(index),
                "value", *bpftool.hex_bytes(value))


def delete(path: str, key: bytes) -> None:
    bpftool.run("map", "delete", "pinned", path, "key", *bpftool.hex_bytes(key))
