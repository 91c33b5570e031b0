"""http_filter on the real kernel: a server and a client network namespace
joined by a veth pair (like the lab server and the test host); the filter's
daemon holds its socket on the server's veth; requests sent from the client
must appear in the log once each, with their exact method and URL."""

import json
import os
import shutil
import time
import uuid

import pytest

from labctl.programs import http_filter
from labrigs.httplab import HttpLab

from lab_helpers import kernel_ready

pytestmark = pytest.mark.kernel
PORT, OTHER_PORT = 8080, 8081

class FilterBox(HttpLab):
    def __init__(self, tmp, build_dir):
        super().__init__("dlsuite-hf", ports=(PORT, OTHER_PORT))
        self.tmp = tmp
        self.build_dir = build_dir
        self.pin_root = f"/sys/fs/bpf/dlsuite-hf-{uuid.uuid4().hex[:8]}"

    def settings(self, **kw):
        values = dict(interface=self.lab.server_if, port=PORT, pin_root=self.pin_root,
                      build_dir=self.build_dir, run_dir=str(self.tmp / "run"),
                      log_file=str(self.tmp / "log" / "http.log"))
        values.update(kw)
        return http_filter.Settings(**values)

    def cli_args(self, settings):
        return ["--config", "", "--interface", settings.interface, "--port", str(settings.port),
                "--pin-root", settings.pin_root, "--build-dir", settings.build_dir,
                "--run-dir", settings.run_dir, "--log-file", settings.log_file]

    def labctl(self, *args, settings=None, popen=False):
        return super().labctl(*args, *self.cli_args(settings or self.settings()), popen=popen)

    def attach(self, **kw):
        proc = self.labctl("attach", "http_filter", "--json", settings=self.settings(**kw))
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def records(self, settings=None, wait_for=0):
        return HttpLab.records((settings or self.settings()).log_file, wait_for)

    def close(self):
        try:
            self.labctl("detach", "http_filter")
        finally:
            super().close()
            shutil.rmtree(self.pin_root, ignore_errors=True)


@pytest.fixture
def box(tmp_path, build_dir):
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")
    b = FilterBox(tmp_path, build_dir)
    try:
        yield b
    finally:
        b.close()


REQUESTS = [
    ["GET", "/", ""],
    ["GET", "/api/files?path=/docs/a%20b.txt&limit=5", ""],
    ["POST", "/api/upload?name=report.pdf", "x" * 3000],   # body spans segments
    ["PUT", "/api/tags/42", '{"tag": "os"}'],
    ["DELETE", "/api/files/7", ""],
    ["HEAD", "/health", ""],
    ["GET", "/graph/node/%E4%B8%AD", ""],
]


def test_requests_from_the_client_appear_once_with_exact_urls(box):
    info = box.attach()
    assert info["changed"] and info["attached"] and info["interface"] == box.lab.server_if
    box.send(REQUESTS)
    recs = box.records(wait_for=len(REQUESTS))
    time.sleep(0.5)
    recs = box.records()
    assert [(r["method"], r["url"]) for r in recs] == [(m, u) for m, u, _ in REQUESTS]
    assert all(r["src"].startswith(box.lab.CLIENT_IP + ":") for r in recs)
    counters = http_filter.counters(box.settings())
    assert counters["GET"] == 3 and counters["POST"] == 1 and counters["PUT"] == 1
    assert counters["DELETE"] == 1 and counters["HEAD"] == 1


def test_other_ports_and_responses_are_not_reported(box):
    box.attach()
    box.send([["GET", "/elsewhere", ""]], port=OTHER_PORT)
    box.send([["GET", "/here", ""]])
    time.sleep(0.5)
    assert [r["url"] for r in box.records(wait_for=1)] == ["/here"]
    assert http_filter.counters(box.settings())["GET"] == 1


def test_loopback_sees_each_request_once(box):
    """On lo the filter sees every packet twice (out and in): the outgoing
    copy is skipped."""
    box.attach(interface="lo")
    box.send([["GET", "/lo/1", ""], ["GET", "/lo/2", ""]], host="127.0.0.1", where="server")
    time.sleep(0.5)
    assert [r["url"] for r in box.records(wait_for=2)] == ["/lo/1", "/lo/2"]


def test_http_log_streams_new_requests(box):
    box.attach()
    box.send([["GET", "/before", ""]])
    box.records(wait_for=1)
    log = box.labctl("http-log", "--lines", "1", "--count", "2", "--timeout", "20", popen=True)
    time.sleep(1)
    box.send([["GET", "/stream/1", ""], ["POST", "/stream/2", "a=b"]])
    out, err = log.communicate(timeout=30)
    lines = out.strip().splitlines()
    assert len(lines) == 3, (out, err)
    assert "/before" in lines[0] and "GET" in lines[1] and "/stream/1" in lines[1]
    assert "POST" in lines[2] and "/stream/2" in lines[2]


def test_attach_is_idempotent_port_change_and_detach(box):
    first = box.attach()
    pid = first["daemon_pid"]
    again = box.attach()
    assert again["changed"] is False and again["daemon_pid"] == pid
    moved = box.attach(port=OTHER_PORT)
    assert moved["changed"] is True and moved["port"] == OTHER_PORT and moved["daemon_pid"] == pid
    box.send([["GET", "/on-other", ""]], port=OTHER_PORT)
    assert [r["url"] for r in box.records(wait_for=1)] == ["/on-other"]
    out = box.labctl("detach", "http_filter", "--json")
    assert json.loads(out.stdout)["changed"] is True
    assert not os.path.exists(box.settings().pins.dir)
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert json.loads(box.labctl("detach", "http_filter", "--json").stdout)["changed"] is False


def test_missing_interface_is_a_clear_error(box):
    proc = box.labctl("attach", "http_filter", settings=box.settings(interface="nosuch0"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_parse_request_reads_method_url_and_host():
    """The daemon's parser, on a hand-made Ethernet/IPv4/TCP frame."""
    import struct
    payload = b"PATCH /a/b?c=d%20e HTTP/1.1\r\nHost: lab-server:8080\r\nX: y\r\n\r\nbody"
    tcp = struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, 5 << 4, 0x18, 1000, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
                     bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1]))
    frame = b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload
    rec = http_filter.parse_request(frame)
    assert rec == {"src": "10.0.0.2:40000", "method": "PATCH", "url": "/a/b?c=d%20e",
                   "version": "HTTP/1.1", "host": "lab-server:8080"}
    assert http_filter.parse_request(frame.replace(b"PATCH", b"BREW ")) is None
