"""Helpers for the eBPF suite's testinfra checks (bps-server / bps-test)."""

import json
import os

SERVER_IP = "10.231.81.10"
TEST_IP = "10.231.81.20"
PIN_ROOT = "/sys/fs/bpf/disgrafs-lab"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def labctl_json(host, *args) -> dict:
    return json.loads(host.check_output("/usr/local/sbin/labctl " + " ".join(args) + " --json"))


def status(host, program: str) -> dict:
    return labctl_json(host, "status", program)[program]


def test_host(host):
    """The testinfra host object of bps-test (traffic comes from there)."""
    import testinfra
    return testinfra.get_host("ansible://bps-test",
                              ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
