"""The few bpf(2) calls that bpftool 7.1 cannot do for us, through ctypes.

bpftool 7.1 loads and pins programs but cannot attach tracepoint programs
(no `autoattach`): attaching needs BPF_RAW_TRACEPOINT_OPEN, which returns a
bpf_link; pinning that link in bpffs keeps the program attached after the
process exits, and removing the pin detaches it. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

from .errors import LabError

_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "loongarch64": 280,
           "ppc64le": 361, "s390x": 351}

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_OBJ_PIN = 6
BPF_OBJ_GET = 7
BPF_RAW_TRACEPOINT_OPEN = 17

SOL_SOCKET = 1
SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: bytes) -> int:
    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        raise LabError(f"bpf(2) syscall number unknown for {platform.machine()}")
    buf = ctypes.create_string_buffer(attr, 128)
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(128))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def obj_get(path: str) -> int:
    """File descriptor of a pinned program, map or link (close it yourself)."""
    name = ctypes.create_string_buffer(path.encode())
    try:
        return _bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(name), 0, 0))
    except OSError as exc:
        raise LabError(f"cannot open pinned BPF object {path}: {exc.strerror} "
                       "(is it attached? run `labctl status`)") from None


def obj_pin(fd: int, path: str) -> None:
    name = ctypes.create_string_buffer(path.encode())
    try:
        _bpf(BPF_OBJ_PIN, struct.pack("=QII", ctypes.addressof(name), fd, 0))
    except OSError as exc:
        raise LabError(f"cannot pin at {path}: {exc.strerror}") from None


def raw_tracepoint_open(prog_fd: int, name: str | None = None) -> int:
    """Attach a raw_tp (name given) or tp_btf (name None: the target is in the
    program's attach_btf_id) program; returns the bpf_link's fd."""
    cname = ctypes.create_string_buffer(name.encode()) if name else None
    addr = ctypes.addressof(cname) if cname is not None else 0
    try:
        return _bpf(BPF_RAW_TRACEPOINT_OPEN, struct.pack("=QI", addr, prog_fd))
    except OSError as exc:
        raise LabError(f"attaching the tracepoint program failed: {exc.strerror}") from None


def attach_pinned_tracepoint(prog_path: str, link_path: str, name: str | None = None) -> None:
    """Attach the pinned program and pin the link (it then outlives us)."""
    prog_fd = obj_get(prog_path)
    try:
        link_fd = raw_tracepoint_open(prog_fd, name)
        try:
            obj_pin(link_fd, link_path)
        finally:
            os.close(link_fd)
    finally:
        os.close(prog_fd)


def map_update(map_fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(value, len(value))
    _bpf(BPF_MAP_UPDATE_ELEM, struct.pack("=IIQQQ", map_fd, 0, ctypes.addressof(k),
                                          ctypes.addressof(v), flags))


def map_lookup(map_fd: int, key: bytes, value_size: int) -> bytes:
    k = ctypes.create_string_buffer(key, len(key))
    v = ctypes.create_string_buffer(value_size)
    _bpf(BPF_MAP_LOOKUP_ELEM, struct.pack("=IIQQQ", map_fd, 0, ctypes.addressof(k),
                                          ctypes.addressof(v), 0))
    return v.raw
