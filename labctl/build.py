"""The one build path of every program: the kernel side (CO-RE, clang
-target bpf against a vmlinux.h generated from this kernel's BTF) and the
user side (C helpers such as the AF_XDP receiver), from bpf/<program>/.

Objects go to BUILD_DIR/<kernel release>/; a build is skipped while the
object is newer than every source it depends on (its .c, its own header and
bpf/common/). Nothing half-written is left: compilers write to a temporary
file that is renamed into place.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess

from . import bpftool, files, system
from .errors import LabError


def bpf_dir() -> str:
    """bpf/ beside the labctl package (the repository, or lab_install_dir on
    a host); LABCTL_BPF_DIR overrides it."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.environ.get("LABCTL_BPF_DIR") or os.path.join(here, "bpf")


def source_dir(program: str) -> str:
    return os.path.join(bpf_dir(), program)


def common_dir() -> str:
    return os.path.join(bpf_dir(), "common")


def clang_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "x86", "aarch64": "arm64", "riscv64": "riscv",
            "ppc64le": "powerpc", "s390x": "s390", "loongarch64": "loongarch"}.get(machine, machine)


def out_dir(build_dir: str) -> str:
    return os.path.join(build_dir, platform.release())


def vmlinux_h(build_dir: str) -> str:
    """vmlinux.h generated from this kernel's BTF (CO-RE: no kernel headers)."""
    system.require_btf()
    directory = out_dir(build_dir)
    os.makedirs(directory, exist_ok=True)
    header = os.path.join(directory, "vmlinux.h")
    if not os.path.exists(header):
        text = bpftool.run("btf", "dump", "file", system.BTF_PATH, "format", "c", json_out=False)
        files.write_atomic(header, text + "\n")
    return header


def _up_to_date(target: str, source: str) -> bool:
    """True if `target` is newer than `source`, the headers beside it and
    the common headers."""
    if not os.path.exists(target):
        return False
    deps = [source] + glob.glob(os.path.join(os.path.dirname(source), "*.h")) \
        + glob.glob(os.path.join(common_dir(), "*.h"))
    built = os.path.getmtime(target)
    return all(os.path.getmtime(dep) <= built for dep in deps)


def _compile(cmd: list[str], tmp: str, target: str, what: str, hint: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        files.remove(tmp)
        raise LabError(f"compiling {what} failed{hint}:\n{proc.stderr.strip()}")
    os.replace(tmp, target)


def _includes(directory: str) -> list[str]:
    return ["-I", common_dir(), "-I", directory]


def kernel_side(program: str, build_dir: str, force: bool = False,
                source: str | None = None, directory: str = "") -> tuple[str, bool]:
    """Compile PROGRAM.bpf.c from `directory` (default bpf/PROGRAM/; a
    student's workspace in course mode), or the file `source`, as CO-RE;
    returns (object, changed)."""
    directory = directory or source_dir(program)
    source = source or os.path.join(directory, f"{program}.bpf.c")
    if not os.path.exists(source):
        raise LabError(f"BPF source {source} is missing: reinstall the lab's bpf/ directory "
                       "(the labctl role copies it to /opt/disgrafs-lab/bpf)")
    obj = os.path.join(out_dir(build_dir), os.path.basename(source).replace(".c", ".o"))
    if not force and _up_to_date(obj, source):
        return obj, False
    clang = shutil.which("clang")
    if not clang:
        raise LabError("clang not found: install clang and llvm (bpf_toolchain role)")
    header_dir = os.path.dirname(vmlinux_h(build_dir))
    tmp = f"{obj}.{os.getpid()}.tmp"
    cmd = [clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{clang_arch()}",
           "-I", header_dir, *_includes(os.path.dirname(source)), "-c", source, "-o", tmp]
    _compile(cmd, tmp, obj, source, " (is libbpf-dev / libbpf-devel installed?)")
    return obj, True


def user_side(program: str, name: str, build_dir: str, libs: list[str],
              force: bool = False, hint: str = "", directory: str = "") -> tuple[str, bool]:
    """Compile the user-space helper NAME.c of bpf/PROGRAM/ (or `directory`)
    into BUILD_DIR."""
    source = os.path.join(directory or source_dir(program), f"{name}.c")
    binary = os.path.join(out_dir(build_dir), name)
    if not force and _up_to_date(binary, source):
        return binary, False
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise LabError(f"no C compiler to build {name}: install gcc")
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    tmp = f"{binary}.{os.getpid()}.tmp"
    cmd = [cc, "-O2", "-Wall", *_includes(os.path.dirname(source)), "-o", tmp, source] + [f"-l{lib}" for lib in libs]
    _compile(cmd, tmp, binary, source, hint)
    return binary, True
