"""Helpers and shared state of the disgrafs scenario's checks.

The workload runs ON THE TEST HOST (workload.py, copied there) against the
server's lab address; the server is inspected with testinfra; Neo4j is queried
over Bolt from this machine (the control machine) at the server's lab address.
Everything talked to is a container of this scenario.
"""

import json
import os
import re
import shlex
import time

import pytest
import testinfra

INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
# LAB_SUDO=1: the inventory logs in as a user that needs sudo (the VM lab).
SUDO = os.environ.get("LAB_SUDO") == "1"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WORKLOAD = os.path.join(os.path.dirname(__file__), "workload.py")
REMOTE_WORKLOAD = "/usr/local/bin/dgf-workload"
SAMPLES = "/var/tmp/dgf-samples"
PIN_DIR = "/sys/fs/bpf/disgrafs-lab/sockredir"
STACK_UNITS = ["redis-server.service", "seaweedfs.service", "juicefs-disgrafs.service",
               "neo4j.service", "disgrafs.service"]
# Waits are multiplied by this: the VM lab under software emulation
# (scripts/test-vagrant.sh) starts services 10-20 times slower.
TIME_FACTOR = float(os.environ.get("LAB_TIME_FACTOR", "1"))


def seconds(base: int) -> str:
    """A wait of `base` seconds on this lab, as a workload argument."""
    return str(int(base * TIME_FACTOR))


EXPECTED_TYPE = {"lab-notes.txt": "text", "lab-paper.pdf": "document",
                 "lab-picture.png": "image", "lab-blob.bin": "binary"}


def get_host(group: str):
    return testinfra.get_hosts([f"ansible://{group}"], ansible_inventory=INVENTORY, sudo=SUDO)[0]


@pytest.fixture(scope="session")
def server():
    return get_host("lab_server")


@pytest.fixture(scope="session")
def tester():
    host = get_host("lab_test")
    host.ansible("copy", f"src={WORKLOAD} dest={REMOTE_WORKLOAD} mode=0755", become=True, check=False)
    return host


@pytest.fixture(scope="session")
def settings(server):
    """What the roles configured, read back from the server."""
    toml = server.file("/etc/disgrafs/disgrafs.toml").content_string
    host = re.search(r'^host = "([^"]+)"', toml, re.M).group(1)
    port = int(re.search(r"^port = (\d+)", toml, re.M).group(1))
    return {
        "address": host,
        "url": f"http://{host}:{port}",
        "token": server.file("/etc/disgrafs/token").content_string.strip(),
        "neo4j_password": server.file("/etc/disgrafs/neo4j_password").content_string.strip(),
        "neo4j_uri": re.search(r'^neo4j_uri = "([^"]+)"', toml, re.M).group(1),
        "data": re.search(r'^data = "([^"]+)"', toml, re.M).group(1),
    }


def workload(tester, *args, timeout: int = 300) -> dict:
    timeout = int(timeout * TIME_FACTOR)
    cmd = " ".join(shlex.quote(str(a)) for a in (REMOTE_WORKLOAD, *args))
    out = tester.run(f"timeout {timeout} {cmd}")
    assert out.rc == 0, f"{cmd}: rc={out.rc}\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def bolt(settings):
    """A query function over Bolt (the official driver, from this machine)."""
    neo4j = pytest.importorskip("neo4j")
    driver = neo4j.GraphDatabase.driver(settings["neo4j_uri"], auth=("neo4j", settings["neo4j_password"]))

    def query(cypher: str, **params) -> list[dict]:
        for attempt in range(30):  # Neo4j may be restarting
            try:
                records, _, _ = driver.execute_query(cypher, params, database_="neo4j")
                return [r.data() for r in records]
            except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired):
                if attempt == 29:
                    raise
                time.sleep(2)
        return []

    yield query
    driver.close()


def tags_in_graph(bolt, name: str) -> dict:
    rows = bolt("MATCH (f:File {name: $name}) OPTIONAL MATCH (f)-[:TAGGED]->(t:Tag) "
                "RETURN f.id AS id, f.sha256 AS sha256, collect(t.key) AS tags", name=name)
    return rows[0] if rows else {}


def labctl_status(server) -> dict:
    return json.loads(server.check_output("/usr/local/sbin/labctl status --json"))["sockredir"]


def sockhash_ports(server) -> set:
    """(local_port, remote_port) of every socket in the bypass's sockhash."""
    out = server.run(f"bpftool -j map dump pinned {PIN_DIR}/maps/sock_hash")
    if out.rc != 0:
        return set()
    pairs = set()
    for entry in json.loads(out.stdout or "[]"):
        key = bytes(int(b, 16) for b in entry["key"])
        # struct sock_key: u32 family, u32 local_ip[4], u32 remote_ip[4], u32 local_port, u32 remote_port
        local_port, remote_port = int.from_bytes(key[36:40], "little"), int.from_bytes(key[40:44], "little")
        pairs.add((local_port, remote_port))
    return pairs


class Files:
    """The sample files of the run: name -> sha256, and what the server said."""

    def __init__(self):
        self.sha = {}
        self.records = {}
        self.deleted = set()

    def kept(self):
        return {n: r for n, r in self.records.items() if n not in self.deleted}


@pytest.fixture(scope="session")
def files(tester, settings):
    """Make the samples on the test host and upload them (once per session)."""
    state = Files()
    tester.run(f"rm -rf {SAMPLES}")
    state.sha = workload(tester, "make", SAMPLES)
    # a verify run repeated on the same containers starts from no samples
    workload(tester, "purge", settings["url"], settings["token"], *state.sha)
    state.records = workload(tester, "upload", settings["url"], settings["token"], SAMPLES)
    return state
