"""afxdp on the lab server: chained behind the XDP balancer on the lab interface, its
receiver gets exactly the UDP packets the test host sent to the service."""

import json
import time

from conftest import SERVER_IP, lab_interface, status, test_host

testinfra_hosts = ["ansible://lab_server"]
PORT = 9200


def test_receiver_runs_behind_the_balancer(host):
    info = status(host, "afxdp")
    assert info["loaded"] and info["attached"] and info["receiver_pid"], info
    assert info["attachment"]["how"].startswith("chained") and info["interface"] == lab_interface(host)
    assert host.service("disgrafs-lab-afxdp.service").is_running


def test_exact_packet_count_from_the_test_host(host):
    before = status(host, "afxdp")
    client = test_host(host)
    sent = json.loads(client.check_output(
        f"lab-udpflood send {SERVER_IP} {PORT} --flows 50 --per-flow 200"))["sent"]
    assert sent == 10000
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = status(host, "afxdp")
        if now["receiver"]["rx_packets"] - before["receiver"]["rx_packets"] >= sent:
            break
        time.sleep(0.3)
    time.sleep(0.5)
    now = status(host, "afxdp")
    assert now["receiver"]["rx_packets"] - before["receiver"]["rx_packets"] == sent
    assert now["counters"]["redirected"] - before["counters"]["redirected"] == sent
    assert now["receiver"]["rx_dropped"] == before["receiver"]["rx_dropped"]
