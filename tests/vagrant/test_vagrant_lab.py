"""From the test VM, over the private network: the server answers, also on a
port the bypass allowlists, with the data intact. Remote peers are never
redirected (sk_msg only moves data between two local sockets): the server's
socket is added to the sockhash and its sends go through TCP.

Runs only in `make test-vagrant` (scripts/test-vagrant.sh), which brings the
VMs up; the server-side checks are molecule's, reused as they are
(molecule/bypass/tests/test_bypass.py, test_test_host.py). Without the VMs
(plain `pytest tests`) this module skips itself, saying why.

scripts/test-vagrant.sh sets:
  LAB_VAGRANT_INVENTORY  Vagrant's generated Ansible inventory
  LAB_SERVER_IP          the server's address on the private network
and passes testinfra's --ansible-inventory and --sudo.

No conftest.py here on purpose: test modules elsewhere in tests/ do
`from conftest import ...`, and another module named conftest could shadow it."""

import hashlib
import json
import os

import pytest

INVENTORY = os.environ.get("LAB_VAGRANT_INVENTORY", "")
SERVER_IP = os.environ.get("LAB_SERVER_IP", "192.168.56.10")

if not (INVENTORY and os.path.exists(INVENTORY)):
    pytest.skip("no Vagrant VM lab is up: `make test-vagrant` runs these checks",
                allow_module_level=True)

testinfra_hosts = ["ansible://lab_test"]

HTTP_PORT = 8080          # allowlisted by the bypass (sockredir_ports)
HTTP_UNIT = "labtest-http"
BLOB = "/var/tmp/labtest-http/blob"
# With the DisGraFS stack deployed, its server holds the port: the test VM
# fetches this file of it instead (the same bytes as in this repository).
STACK_FILE = "static/vendor/cytoscape.min.js"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def server():
    """The server VM (group lab_server), commands as root."""
    import testinfra

    hosts = testinfra.get_hosts(["ansible://lab_server"], ansible_inventory=INVENTORY, sudo=True)
    assert len(hosts) == 1, hosts
    return hosts[0]


def counters(server) -> dict:
    status = json.loads(server.check_output("/usr/local/sbin/labctl status --json"))
    return status["sockredir"]["counters"]


def test_server_answers_ping(host):
    assert host.run(f"ping -c 3 -W 5 {SERVER_IP}").rc == 0


def test_server_ssh_answers_on_the_private_network(host):
    banner = host.check_output(
        f"timeout 10 bash -c 'exec 3<>/dev/tcp/{SERVER_IP}/22; head -c 4 <&3'")
    assert banner == "SSH-"


@pytest.fixture
def http_server(server):
    """(path, sha256) of a file served in the lab's slice on an allowlisted
    port (so sockops sees its sockets): the DisGraFS server's when the stack
    runs, else a 4 MiB file from a python http.server started (and stopped)
    here."""
    if server.socket(f"tcp://{SERVER_IP}:{HTTP_PORT}").is_listening:
        with open(os.path.join(REPO, "disgrafs", STACK_FILE), "rb") as f:
            yield f"/{STACK_FILE}", hashlib.sha256(f.read()).hexdigest()
        return
    server.run(f"systemctl stop {HTTP_UNIT}; systemctl reset-failed {HTTP_UNIT}")
    server.check_output(f"mkdir -p /var/tmp/labtest-http && head -c 4M /dev/urandom > {BLOB}")
    sha = server.check_output(f"sha256sum {BLOB}").split()[0]
    server.check_output(
        f"systemd-run --quiet --unit={HTTP_UNIT} --slice=disgrafs.slice "
        f"python3 -m http.server {HTTP_PORT} --bind {SERVER_IP} --directory /var/tmp/labtest-http")
    yield "/blob", sha
    server.run(f"systemctl stop {HTTP_UNIT}; rm -rf /var/tmp/labtest-http")


def test_server_answers_on_an_allowlisted_port_through_tcp(host, server, http_server):
    path, sha = http_server
    before = counters(server)
    got = host.run(
        f"curl -sS --retry 20 --retry-connrefused --retry-delay 1 -m 120 "
        f"http://{SERVER_IP}:{HTTP_PORT}{path} | sha256sum")
    assert got.rc == 0, got.stderr
    assert got.stdout.split()[0] == sha
    after = counters(server)
    # the server's accepted socket went into the sockhash (sockops ran) ...
    assert after["sockets_added"] > before["sockets_added"]
    # ... but its peer is remote, so its messages found no peer socket
    assert after["redirect_failed"] > before["redirect_failed"]
    if path == "/blob":
        # and nothing was redirected (with the stack up, its own local
        # connections are redirected all the time: this counter is theirs)
        assert after["redirect_ok"] == before["redirect_ok"]
