"""afxdp on the real kernel: server and client network namespaces joined by
a veth pair; the AF_XDP receiver on the server's veth gets exactly the UDP
packets the client sent to the service port, and nothing else."""

import json
import os
import shutil
import time
import uuid

import pytest

from labrigs.netlab import NetLab

from lab_helpers import kernel_ready

pytestmark = pytest.mark.kernel
PORT, OTHER_PORT = 9200, 9201


class AfxdpBox:
    def __init__(self, tmp, build_dir):
        self.lab = NetLab("dlsuite-ax")
        self.pin_root = f"/sys/fs/bpf/dlsuite-ax-{uuid.uuid4().hex[:8]}"
        self.build_dir = build_dir
        self.run_dir = str(tmp / "run")

    def labctl(self, *args):
        return self.lab.labctl(*args, "--config", "", "--pin-root", self.pin_root, "--build-dir",
                               self.build_dir, "--run-dir", self.run_dir, "--interface", self.lab.server_if)

    def attach(self, program="afxdp", *extra):
        proc = self.labctl("attach", program, "--json", *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def status(self):
        return json.loads(self.labctl("status", "afxdp", "--json").stdout)["afxdp"]

    def send(self, port=PORT, flows=16, per_flow=100):
        return self.lab.udp_send(port, flows, per_flow)

    def received(self, expect, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            rx = self.status()["receiver"].get("rx_packets", 0)
            if rx >= expect or time.monotonic() > deadline:
                time.sleep(0.3)  # anything extra would show up now
                return self.status()["receiver"].get("rx_packets", 0)
            time.sleep(0.1)

    def close(self):
        try:
            self.labctl("detach", "afxdp")
            self.labctl("detach", "xdp_cpumap")
        finally:
            self.lab.close()
            shutil.rmtree(self.pin_root, ignore_errors=True)


@pytest.fixture
def box(tmp_path, build_dir):
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")
    if not os.path.exists("/usr/include/xdp/xsk.h"):
        pytest.skip("needs libxdp-dev (.ci/deps-bpfsuite.sh installs it)")
    b = AfxdpBox(tmp_path, build_dir)
    try:
        yield b
    finally:
        b.close()


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_receiver_gets_exactly_the_packets_sent(box, mode):
    info = box.attach("afxdp", "--mode", mode, "--port", str(PORT))
    assert info["attached"] and info["mode"] == mode and info["receiver_pid"]
    sent = box.send(flows=16, per_flow=250)
    assert box.received(sent) == sent == 4000
    st = box.status()
    assert st["counters"]["redirected"] == sent and st["counters"]["no_socket"] == 0
    assert st["receiver"]["rx_dropped"] == 0 and st["receiver"]["rx_other"] == 0


def test_other_traffic_reaches_the_kernel_stack(box):
    box.attach("afxdp", "--port", str(PORT))
    sent, received, _ = box.lab.udp_flood(OTHER_PORT, flows=5, per_flow=100, seconds=20)
    assert received == sent == 500
    assert box.status()["receiver"]["rx_packets"] == 0


def test_chains_behind_xdp_cpumap_and_both_work(box):
    box.attach("xdp_cpumap", "--weights", "0:1")
    info = box.attach("afxdp", "--port", str(PORT))
    assert info["attachment"]["how"].startswith("chained")
    sent = box.send(flows=4, per_flow=250)
    assert box.received(sent) == sent
    proc = box.labctl("detach", "xdp_cpumap")
    assert proc.returncode == 2 and "detach it first" in proc.stderr
    assert json.loads(box.labctl("detach", "afxdp", "--json").stdout)["changed"] is True
    assert json.loads(box.labctl("detach", "xdp_cpumap", "--json").stdout)["changed"] is True


def test_attach_is_idempotent_and_detach_stops_the_receiver(box):
    first = box.attach("afxdp")
    pid = first["receiver_pid"]
    again = box.attach("afxdp")
    assert again["changed"] is False and again["receiver_pid"] == pid
    assert json.loads(box.labctl("detach", "afxdp", "--json").stdout)["changed"] is True
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}/cmdline") or b"afxdp" not in open(f"/proc/{pid}/cmdline", "rb").read()
    assert '"xdp"' not in box.lab.server("ip", "-j", "-d", "link", "show", "dev", box.lab.server_if).stdout
