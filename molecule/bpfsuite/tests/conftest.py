"""Helpers for the eBPF suite's testinfra checks (bps-server / bps-test).

The same checks run on the VM lab (scripts/test-vagrant.sh): there the lab
addresses come from LAB_SERVER_IP / LAB_TEST_IP and the inventory from
MOLECULE_INVENTORY_FILE (Vagrant's generated one)."""

import json
import os

SERVER_IP = os.environ.get("LAB_SERVER_IP", "10.231.81.10")
TEST_IP = os.environ.get("LAB_TEST_IP", "10.231.81.20")
PIN_ROOT = "/sys/fs/bpf/disgrafs-lab"
# > 1 under software emulation (scripts/test-vagrant.sh): the emulated NIC
# drains its ring that many times slower, so floods are paced accordingly.
TIME_FACTOR = float(os.environ.get("LAB_TIME_FACTOR", "1"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def labctl_json(host, *args) -> dict:
    return json.loads(host.check_output("/usr/local/sbin/labctl " + " ".join(args) + " --json"))


def status(host, program: str) -> dict:
    return labctl_json(host, "status", program)[program]


def lab_interface(host, address: str = SERVER_IP) -> str:
    """The interface that holds the host's lab address (eth0 in the
    containers; on a VM, the private network's NIC, not the management one)."""
    for link in json.loads(host.check_output("ip -j -4 addr show")):
        if any(a.get("local") == address for a in link.get("addr_info", [])):
            return link["ifname"]
    raise AssertionError(f"no interface holds {address}")


def test_host(host):
    """The testinfra host object of the test host (traffic comes from there)."""
    import testinfra
    return testinfra.get_hosts(["ansible://lab_test"],
                               ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                               # LAB_SUDO=1: a login user that needs sudo (the VM lab)
                               sudo=os.environ.get("LAB_SUDO") == "1")[0]
