"""Shared fixtures. Tests that touch the host kernel isolate themselves: their
own cgroup, network namespace, bpffs pin root and build directory, removed
even when the test fails."""

import pytest

from lab_helpers import Sandbox, kernel_ready


@pytest.fixture
def sandbox(tmp_path):
    reason = kernel_ready()
    if reason:
        pytest.skip(f"kernel test: {reason}")
    with Sandbox("dltest", str(tmp_path / "build")) as box:
        yield box


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    """One CO-RE build per test file (vmlinux.h + clang take seconds)."""
    return str(tmp_path_factory.mktemp("build"))
