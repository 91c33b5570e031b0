"""User-space daemons of programs that need one (a socket filter lives as
long as its socket; the AF_XDP receiver): pid files, start, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from . import files
from .errors import LabError


def pid_of(pid_path: str, token: str) -> int | None:
    """PID in `pid_path` if that process is alive and its command line
    contains `token` (a recycled PID is not ours)."""
    try:
        with open(pid_path, encoding="utf-8") as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if token.encode() not in f.read():
                return None
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except OSError:
        return None
    return pid


def write_pid(pid_path: str) -> None:
    os.makedirs(os.path.dirname(pid_path), exist_ok=True)
    files.write_atomic(pid_path, f"{os.getpid()}\n")


def labctl_argv(*args: str) -> list[str]:
    """Run labctl again (same interpreter, same package) as a daemon."""
    return [sys.executable, "-m", "labctl", *args]


def _labctl_env() -> dict:
    """This process's environment, with the labctl package importable."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def spawn(name: str, argv: list[str], log: str, wait_for=None, timeout: float = 10) -> int:
    """Start `argv` detached (own session, stdio to `log`); wait until
    `wait_for()` is true or the process dies. Returns its PID."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, env=_labctl_env())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"the {name} daemon exited with status {proc.returncode}; "
                           f"its log {log} ends with:\n{files.tail(log)}")
        if wait_for is None or wait_for():
            return proc.pid
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise LabError(f"the {name} daemon did not become ready in {timeout:.0f} s: see {log}")


def stop(pid_path: str, token: str, timeout: float = 10) -> bool:
    """SIGTERM the daemon (SIGKILL after `timeout`); True if one ran."""
    pid = pid_of(pid_path, token)
    if pid is None:
        files.remove(pid_path)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    _reap(pid)
    files.remove(pid_path)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
