"""Helpers for the eBPF suite's testinfra checks (mol-suite-server /
mol-suite-test).

The same checks run on the VM lab (scripts/test-vagrant.sh): there the lab
addresses come from LAB_SERVER_IP / LAB_TEST_IP and the inventory from
MOLECULE_INVENTORY_FILE (Vagrant's generated one). In the containers docker
chose the scenario network's subnet: the addresses are read from the hosts."""

import json
import os

import testinfra


def get_host(group: str):
    """The testinfra host object of the group's (only) host."""
    return testinfra.get_hosts([f"ansible://{group}"],
                               ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"],
                               # LAB_SUDO=1: a login user that needs sudo (the VM lab)
                               sudo=os.environ.get("LAB_SUDO") == "1")[0]


def lab_address(group: str, variable: str) -> str:
    """The host's lab address: $variable when set (the VM lab), else the
    source address of its default route, which is what the roles use as
    lab_address (Ansible's default_ipv4 fact)."""
    if os.environ.get(variable):
        return os.environ[variable]
    route = json.loads(get_host(group).check_output("ip -j -4 route get 8.8.8.8"))
    return route[0]["prefsrc"]


SERVER_IP = lab_address("lab_server", "LAB_SERVER_IP")
TEST_IP = lab_address("lab_test", "LAB_TEST_IP")
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
    return get_host("lab_test")
