"""redis_latency on the real kernel: a private redis-server in a private
network namespace, the monitor pointed at its pid through labctl, and the
per-command counts compared with what redis-benchmark sent."""

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from labctl import bpftool
from labctl.programs import redis_latency
from labrigs.redislab import RedisLab

from lab_helpers import REPO, kernel_ready

pytestmark = pytest.mark.kernel
PORT = 6391


def _labctl(*args):
    return subprocess.run([sys.executable, "-m", "labctl", *args], cwd=REPO,
                          capture_output=True, text=True, check=False, timeout=120)


class RedisBox(RedisLab):
    """redis-server on 127.0.0.1:PORT inside a private netns + a pin root."""

    def __init__(self, build_dir):
        self.pin_root = f"/sys/fs/bpf/dlsuite-rl-{uuid.uuid4().hex[:8]}"
        self.build_dir = build_dir
        super().__init__("dlsuite-rl", PORT)

    def settings(self, **kw):
        values = dict(pid=self.pid, pin_root=self.pin_root, build_dir=self.build_dir)
        values.update(kw)
        return redis_latency.Settings(**values)

    def close(self):
        try:
            self.stop_redis()
            redis_latency.detach(self.settings())
        finally:
            super().close()
            shutil.rmtree(self.pin_root, ignore_errors=True)


@pytest.fixture
def box(build_dir):
    reason = kernel_ready() or (None if shutil.which("redis-server") else "needs redis-server")
    if reason:
        pytest.skip(f"kernel test: {reason}")
    b = RedisBox(build_dir)
    try:
        yield b
    finally:
        b.close()


def counts(box) -> dict:
    return {cmd: h["count"] for cmd, h in redis_latency.histograms(box.settings()).items()}


def test_counts_equal_what_redis_benchmark_sent(box):
    result = redis_latency.attach(box.settings())
    assert result["changed"] and result["attached"] and result["target_pid"] == box.pid
    box.bench("-t", "set,get,lpush", "-n", "4000", "-c", "8")
    got = counts(box)
    assert got["SET"] == 4000 and got["GET"] == 4000 and got["LPUSH"] == 4000, got
    hists = redis_latency.histograms(box.settings())
    for cmd in ("SET", "GET", "LPUSH"):
        assert sum(hists[cmd]["buckets"]) == hists[cmd]["count"]
        assert hists[cmd]["sum_ns"] > 0
        assert 1000 < hists[cmd]["sum_ns"] / hists[cmd]["count"] < 1e9  # 1 us .. 1 s
    c = redis_latency.counters(box.settings())
    assert c["requests"] == c["replies"] == sum(got.values())
    assert c["table_full"] == 0 and c["read_fault"] == 0


def test_inline_lowercase_and_unknown_commands(box):
    redis_latency.attach(box.settings())
    script = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {PORT}))\n"
        "for req in [b'ping\\r\\n', b'*1\\r\\n$4\\r\\nping\\r\\n', b'*2\\r\\n$4\\r\\necho\\r\\n$2\\r\\nhi\\r\\n',"
        " b'*1\\r\\n$11\\r\\nnosuchthing\\r\\n', b'*12\\r\\n$4\\r\\nMSET' + b'\\r\\n$1\\r\\na\\r\\n$1\\r\\nb' * 5 + b'\\r\\n$1\\r\\nc\\r\\n$1\\r\\nd\\r\\n']:\n"
        "    s.sendall(req)\n"
        "    s.recv(1000)\n")
    box.lab.server(sys.executable, "-c", script)
    got = counts(box)
    assert got.get("PING") == 2 and got.get("ECHO") == 1 and got.get("NOSUCHTHING") == 1, got
    assert got.get("MSET") == 1, got


def test_other_processes_are_not_counted(box):
    redis_latency.attach(box.settings())
    other = subprocess.Popen(box.lab.server_argv(
        "redis-server", "--port", str(PORT + 1), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--logfile", ""), stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if box.lab.server("redis-cli", "-p", str(PORT + 1), "ping", check=False).stdout.strip() == "PONG":
                break
            time.sleep(0.05)
        box.lab.server("redis-benchmark", "-p", str(PORT + 1), "-q", "-t", "set", "-n", "2000", "-c", "4")
    finally:
        other.terminate()
        other.wait(timeout=10)
    assert counts(box).get("SET", 0) == 0
    box.bench("-t", "set", "-n", "1000", "-c", "4")
    assert counts(box)["SET"] == 1000


def test_attach_is_idempotent_and_follows_a_restarted_redis(box):
    s = box.settings(pid=0, port=PORT)  # found by name and port, like the role
    assert redis_latency.attach(s)["changed"] is True
    again = redis_latency.attach(s)
    assert again["changed"] is False and again["target_pid"] == box.pid
    old = box.pid
    box.stop_redis()
    box.start_redis()
    assert box.pid != old
    moved = redis_latency.attach(s)
    assert moved["changed"] is True and moved["target_pid"] == box.pid
    box.bench("-t", "get", "-n", "500", "-c", "2")
    assert counts(box)["GET"] == 500


def test_cli_live_view_metrics_and_detach(box):
    common = ["--pin-root", box.pin_root, "--build-dir", box.build_dir, "--config", ""]
    proc = _labctl("attach", "redis_latency", "--pid", str(box.pid), "--json", *common)
    assert proc.returncode == 0, proc.stderr
    prog_id = bpftool.prog_show_pinned(box.settings().pins.prog("rl_sock_recv"))["id"]
    box.bench("-t", "incr", "-n", "300", "-c", "2")
    status = _labctl("status", "--json", *common)
    info = __import__("json").loads(status.stdout)["redis_latency"]
    assert info["attached"] and info["commands"]["INCR"]["count"] == 300
    live = _labctl("redis-latency", "--interval", "0.2", "--count", "1", *common)
    assert live.returncode == 0 and "INCR" in live.stdout and "p99 us" in live.stdout, live.stderr
    metrics = _labctl("redis-latency", "--prometheus", *common).stdout
    assert 'disgrafs_redis_command_duration_seconds_count{command="INCR"} 300' in metrics
    assert 'le="+Inf"} 300' in metrics
    proc = _labctl("detach", "redis_latency", "--json", *common)
    assert proc.returncode == 0 and '"changed": true' in proc.stdout
    assert not os.path.exists(box.settings().pins.dir)
    for _ in range(50):  # the kernel frees the program after an RCU grace period
        if prog_id not in {p["id"] for p in bpftool.run("prog", "show")}:
            break
        time.sleep(0.1)
    assert prog_id not in {p["id"] for p in bpftool.run("prog", "show")}
    assert '"changed": false' in _labctl("detach", "redis_latency", "--json", *common).stdout


def test_unknown_pid_is_a_clear_error(box):
    proc = _labctl("attach", "redis_latency", "--pid", "999999999", "--pin-root", box.pin_root,
                   "--config", "")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not os.path.exists(box.settings().pins.dir)


def test_redis_in_a_container_pid_namespace(box):
    """In a container labctl sees container pids, BPF sees host tgids: the
    program learns the host tgid from the pid namespace labctl gives it."""
    port = PORT + 2
    script = f"""
cd {REPO}
redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --logfile '' >/dev/null &
for i in $(seq 50); do redis-cli -p {port} ping >/dev/null 2>&1 && break; sleep 0.1; done
{sys.executable} -m labctl attach redis_latency --port {port} --pin-root {box.pin_root} \\
    --build-dir {box.build_dir} --config '' >/dev/null || exit 3
redis-benchmark -p {port} -q -t set -n 700 -c 2 >/dev/null
{sys.executable} -m labctl redis-latency --json --pin-root {box.pin_root} --config ''
redis-cli -p {port} shutdown nosave >/dev/null 2>&1
"""
    proc = box.lab.server("unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script)
    data = __import__("json").loads(proc.stdout)
    assert data["commands"]["SET"]["count"] == 700, data
    info = redis_latency.status(box.settings())
    assert info["target_pid"] < 100 < info["target_host_tgid"]  # ns pid vs host tgid


def test_quantiles_from_log2_buckets():
    hist = {"count": 100, "sum_ns": 0, "buckets": [0] * 32}
    hist["buckets"][10] = 90   # [1024, 2048) ns
    hist["buckets"][20] = 10   # [1 ms, 2 ms)
    assert 1024 <= redis_latency.quantile_ns(hist, 0.5) < 2048
    assert 2**20 <= redis_latency.quantile_ns(hist, 0.99) < 2**21
    assert redis_latency.quantile_ns({"count": 0, "buckets": [0] * 32}, 0.5) == 0
