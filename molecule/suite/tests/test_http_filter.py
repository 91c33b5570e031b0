"""http_filter on the lab server: requests sent from the test host appear in
`labctl http-log` once each, with their exact method and URL, and in the
per-method counters."""

import json
import time
import uuid

import pytest

from conftest import SERVER_IP, TEST_IP, lab_interface, status, test_host

testinfra_hosts = ["ansible://lab_server"]
PORT = 8080


@pytest.fixture(scope="module")
def http_server(host):
    """The DisGraFS server answers on 8080 when the stack is deployed; else a
    stand-in python http.server runs there for this test."""
    if host.socket(f"tcp://0.0.0.0:{PORT}").is_listening or \
            host.socket(f"tcp://{SERVER_IP}:{PORT}").is_listening:
        yield None
        return
    unit = "labtest-http-standin"
    host.run(f"systemctl stop {unit}")
    host.check_output(f"systemd-run --quiet --unit={unit} python3 -m http.server {PORT} "
                      f"--directory /tmp")
    for _ in range(50):
        if host.socket(f"tcp://0.0.0.0:{PORT}").is_listening:
            break
        time.sleep(0.1)
    yield unit
    host.run(f"systemctl stop {unit}")


def log_records(host) -> list[dict]:
    out = host.check_output("/usr/local/sbin/labctl http-log --lines 500 --timeout 0.5 --json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_daemon_holds_the_filter_on_the_lab_interface(host):
    info = status(host, "http_filter")
    assert info["loaded"] and info["attached"], info
    assert info["interface"] == lab_interface(host) and info["port"] == PORT
    assert host.service("disgrafs-lab-http-filter.service").is_running
    # the kernel's view: the daemon's packet socket has a filter attached
    pid = info["daemon_pid"]
    assert host.run(f"ls -l /proc/{pid}/fd | grep -c socket").stdout.strip() != "0"


def test_requests_from_the_test_host_appear_once_with_exact_urls(host, http_server):
    tag = uuid.uuid4().hex[:8]
    urls = [f"/lab-{tag}/a.txt", f"/lab-{tag}/dir/?q=graph%20fs&n=3", f"/lab-{tag}/%E5%9B%BE"]
    before = status(host, "http_filter")["counters"]
    client = test_host(host)
    for url in urls:
        client.run(f"curl -s -o /dev/null 'http://{SERVER_IP}:{PORT}{url}'")
    client.run(f"curl -s -o /dev/null -X POST -d name=x http://{SERVER_IP}:{PORT}/lab-{tag}/post")
    time.sleep(1)
    mine = [(r["method"], r["url"]) for r in log_records(host) if f"/lab-{tag}/" in r["url"]]
    assert mine == [("GET", u) for u in urls] + [("POST", f"/lab-{tag}/post")]
    records = [r for r in log_records(host) if f"/lab-{tag}/" in r["url"]]
    assert all(r["src"].startswith(f"{TEST_IP}:") for r in records)
    after = status(host, "http_filter")["counters"]
    assert after["GET"] - before["GET"] == len(urls)
    assert after["POST"] - before["POST"] == 1
