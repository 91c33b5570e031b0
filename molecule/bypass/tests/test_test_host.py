"""The test host has the client tools the handouts use."""

import pytest

testinfra_hosts = ["ansible://lab_test"]


@pytest.mark.parametrize("tool", ["curl", "redis-cli", "iperf3", "socat", "wrk", "perf"])
def test_client_tool_installed(host, tool):
    assert host.exists(tool), tool
