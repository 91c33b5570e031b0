"""Private network namespaces joined by a veth pair, for the suite's tests
and benchmarks: a "server" namespace and a "client" namespace, like the lab
server and the test host, on their own addresses. Traffic never leaves them.

    with NetLab("dlsuite-t") as lab:
        lab.server("ip", "-j", "addr")            # runs inside the server netns
        lab.client_popen([...])

`close()` deletes both namespaces (the veth pair goes with them), and the
context manager calls it even when the body fails. nsenter is used instead
of `ip netns exec`, which remounts /sys and hides bpffs.
"""

import json
import os
import subprocess
import sys
import uuid

from labrigs.rig import Rig


def _package_parent(name: str) -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__import__(name).__file__)))


UDPFLOOD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udpflood.py")


class NetLab(Rig):
    SERVER_IP = "10.254.77.1"
    CLIENT_IP = "10.254.77.2"

    def __init__(self, prefix: str = "dlsuite", tx_offload: bool = False, mtu: int = 1500):
        tag = f"{prefix}-{os.getpid() % 100000}-{uuid.uuid4().hex[:4]}"
        self.tag = tag
        self.server_ns, self.client_ns = f"{tag}-s", f"{tag}-c"
        # interface names: at most 15 characters
        short = uuid.uuid4().hex[:6]
        self.server_if, self.client_if = f"dls{short}s", f"dls{short}c"
        try:
            for ns in (self.server_ns, self.client_ns):
                _run("ip", "netns", "add", ns)
                _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "link", "add", self.server_if, "mtu", str(mtu), "netns", self.server_ns,
                 "type", "veth", "peer", "name", self.client_if, "mtu", str(mtu),
                 "netns", self.client_ns)
            _run("ip", "-n", self.server_ns, "addr", "add", f"{self.SERVER_IP}/24", "dev", self.server_if)
            _run("ip", "-n", self.client_ns, "addr", "add", f"{self.CLIENT_IP}/24", "dev", self.client_if)
            # XDP on veth needs enough queues/ GRO off does not matter; bring up
            _run("ip", "-n", self.server_ns, "link", "set", self.server_if, "up")
            _run("ip", "-n", self.client_ns, "link", "set", self.client_if, "up")
            if not tx_offload:
                # a cpumap/AF_XDP'd packet keeps CHECKSUM_PARTIAL from the veth
                # peer's TX offload and is then counted as InCsumErrors
                self.client("ethtool", "-K", self.client_if, "tx", "off")
        except Exception:
            self.close()
            raise

    @staticmethod
    def _wrap(ns: str, argv) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{ns}", *argv]

    def server_argv(self, *argv) -> list[str]:
        return self._wrap(self.server_ns, argv)

    def client_argv(self, *argv) -> list[str]:
        return self._wrap(self.client_ns, argv)

    def server(self, *argv, timeout=120, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(self.server_argv(*argv), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def client(self, *argv, timeout=120, check=True) -> subprocess.CompletedProcess:
        return subprocess.run(self.client_argv(*argv), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def snmp(self, ns: str, proto: str = "Udp") -> dict[str, int]:
        """The namespace's SNMP counters of `proto` ({"InDatagrams": n, ...}),
        from nstat (absolute values, no history file)."""
        out = subprocess.run(self._wrap(ns, ["nstat", "-asz", "-j"]), capture_output=True,
                             text=True, check=True).stdout
        return {k[len(proto):]: v for k, v in json.loads(out)["kernel"].items() if k.startswith(proto)}

    def labctl(self, *args, popen=False, timeout=90):
        """labctl (this interpreter's, this checkout's) inside the server namespace,
        where XDP attaches and a socket filter's daemon holds its socket."""
        argv = self.server_argv(sys.executable, "-m", "labctl", *args)
        env = {**os.environ, "PYTHONPATH": _package_parent("labctl")}
        if popen:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)

    def udp_send(self, port: int, flows: int, per_flow: int) -> int:
        """A bounded UDP flood from the client to the server; packets sent."""
        return json.loads(self.client(sys.executable, UDPFLOOD, "send", self.SERVER_IP, str(port),
                                      "--flows", str(flows), "--per-flow", str(per_flow)).stdout)["sent"]

    def udp_flood(self, port: int, flows: int, per_flow: int, seconds: float = 30):
        """udp_send to a socket receiver on the server: (sent, received,
        the server's Udp counter deltas)."""
        rec = subprocess.Popen(self.server_argv(sys.executable, UDPFLOOD, "recv", str(port),
                                                "--expect", str(flows * per_flow), "--seconds", str(seconds)),
                               stdout=subprocess.PIPE, text=True)
        try:
            if rec.stdout.readline().strip() != "ready":
                raise RuntimeError("the UDP receiver did not start")
            before = self.snmp(self.server_ns)
            sent = self.udp_send(port, flows, per_flow)
            received = json.loads(rec.communicate(timeout=seconds + 30)[0])["received"]
        finally:
            rec.kill()
            rec.wait()
        after = self.snmp(self.server_ns)
        return sent, received, {k: after[k] - before[k] for k in after}

    def close(self) -> None:
        for ns in (self.server_ns, self.client_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _run(*argv) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
