"""Shared by every molecule scenario's checks (pytest loads this file for
molecule/*/tests, under molecule's verify step and scripts/test-vagrant.sh).

Teardown checks undo what the scenario set up, so they must run last. They
say so with a marker, not with their file names: every test marked
`teardown` runs after every other test of the session, the teardown tests in
the order they were collected. `-m "not teardown"` leaves them out (the VM lab
keeps its machines)."""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "teardown: undoes what the scenario set up; runs after every other check")


@pytest.hookimpl(trylast=True)  # after pytest's own reordering (fixtures, -m, -k)
def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("teardown") is not None)  # stable
