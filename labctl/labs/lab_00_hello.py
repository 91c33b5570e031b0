"""Lab 00: hello world, three ways, each printing a line per execve():
bpftrace (hello.bt), libbpf CO-RE (hello.bpf.c + hello.c) and bcc
(hello_bcc.py, as the course began). The execve tracepoint works where
kprobes do not (as on the lab's build machine).

Starter: each one attaches but prints nothing useful (TODOs): bpftrace prints
a constant, the CO-RE program submits no event, the bcc program none. The
checks run each for a few seconds, execute a marker program of their own and
look for its file name in the output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from .. import build
from ..grading import Check, Env, Failed, Lab

PROGRAM = "hello"
SOURCE = "hello"
FILES = ("hello.bt", "hello.bpf.c", "hello.h", "hello.c", "hello_bcc.py")

STARTER = {
    "hello.bt": [
        ('	printf("hello: pid %d comm %s execve %s\\n", pid, comm, str(args->filename));',
         '	// TODO(lab 0): print the pid, the command (comm) and the file name\n'
         '	// execve() runs (args->filename, a user-space string: str()).\n'
         '	printf("hello\\n");'),
    ],
    "hello.bpf.c": [
        ("	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);",
         "	/* TODO(lab 0): reserve an event in the ring buffer, fill in the pid,\n"
         "	 * comm and file name (ctx->args[0]), submit it. For now: nothing. */\n"
         "	return 0;\n"
         "	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);"),
    ],
    "hello_bcc.py": [
        ("    events.perf_submit(args, &e, sizeof(e));\n",
         "    // TODO(lab 0): hand the event to user space (events.perf_submit).\n"),
    ],
}


class _Capture:
    """A tracer run in the background; its output lines collected."""

    def __init__(self, argv: list[str], cwd: str):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, words: tuple[str, ...], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(w in line for line in self.lines for w in words):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise Failed(f"it did not start: {' | '.join(self.lines[-5:]) or 'no output'}",
                     "run it by hand in the workspace and read its error")

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)
        return self.lines


def _marker(env: Env) -> str:
    """A program of the grader's own whose execve() the tracers must report."""
    if "marker" not in env.extra:
        directory = tempfile.mkdtemp(prefix="grade00-")
        path = os.path.join(directory, f"lab00-marker-{uuid.uuid4().hex[:8]}")
        shutil.copy2(shutil.which("true") or "/bin/true", path)
        env.extra["marker"] = path
    return env.extra["marker"]


def _sees_marker(env: Env, capture: _Capture, ready: tuple[str, ...]) -> str:
    capture.wait_ready(ready)
    marker = _marker(env)
    for _ in range(5):
        subprocess.run([marker], check=False)
        time.sleep(0.2)
    time.sleep(1)
    lines = capture.stop()
    hits = [line for line in lines if marker in line]
    if not hits:
        tail = " | ".join(lines[-3:]) or "no output"
        raise Failed(f"ran {marker} 5 times; no line names it (last lines: {tail[:300]})",
                     "print the file name execve() runs: it is the tracepoint's first argument")
    return f"{len(hits)} lines for 5 runs, e.g. {hits[0][:120]!r}"


def cleanup(env: Env) -> None:
    marker = env.extra.pop("marker", None)
    if marker:
        shutil.rmtree(os.path.dirname(marker), ignore_errors=True)


def check_bpftrace(env: Env) -> str:
    bpftrace = shutil.which("bpftrace")
    if not bpftrace:
        raise Failed("bpftrace is not installed", "the bpf_toolchain role installs it: tell a TA")
    return _sees_marker(env, _Capture([bpftrace, "hello.bt"], env.workspace), ("Attaching",))


def check_core_builds(env: Env) -> str:
    build.kernel_side(PROGRAM, env.build_dir, force=True, directory=env.workspace)
    build.user_side(PROGRAM, "hello", env.build_dir, ["bpf"], force=True, directory=env.workspace)
    return "hello.bpf.o (CO-RE) and hello (libbpf) compiled"


def check_core_prints(env: Env) -> str:
    out = build.out_dir(env.build_dir)
    argv = [os.path.join(out, "hello"), os.path.join(out, "hello.bpf.o")]
    return _sees_marker(env, _Capture(argv, env.workspace), ("ready",))


def _bcc_gradable() -> str:
    """Why bcc cannot compile here ("" if it can)."""
    release = os.uname().release
    if not os.path.isdir(f"/lib/modules/{release}/build"):
        return f"no kernel headers for {release} (/lib/modules/{release}/build)"
    return ""


def check_bcc(env: Env) -> str:
    why = _bcc_gradable()
    if why:
        raise Failed(f"bcc cannot compile on this host: {why}",
                     "install the headers of the running kernel (kernel-devel / linux-headers)")
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    return _sees_marker(env, _Capture([python, "hello_bcc.py"], env.workspace), ("ready",))


CHECKS = [
    Check("bpftrace", 3, "hello.bt prints a line naming the file of each execve() (a marker program)",
          check_bpftrace),
    Check("core_builds", 2, "hello.bpf.c (CO-RE) and hello.c (libbpf) compile", check_core_builds),
    Check("core_prints", 3, "./hello prints a line naming the file of each execve()", check_core_prints,
          requires=("core_builds",)),
]
# bcc compiles against the running kernel's headers: graded where they exist.
BCC = Check("bcc", 2, "hello_bcc.py prints a line naming the file of each execve() (needs kernel headers)",
            check_bcc)

LAB = Lab(number=0, name="hello", title="hello world: bpftrace, libbpf CO-RE, bcc",
          cleanup=cleanup, checks=CHECKS + ([] if _bcc_gradable() else [BCC]))
