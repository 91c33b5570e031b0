"""Prometheus exposition of every program's metrics (prometheus_client):
`labctl metrics` prints it, `labctl exporter` serves it over HTTP."""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily

from . import programs
from .errors import LabError

log = logging.getLogger("labctl.exporter")


class ProgramsCollector:
    """Collects each program's metric families at scrape time; a program
    that cannot be read is reported in disgrafs_lab_program_scrape_error
    instead of hiding the others."""

    def __init__(self, settings_of):
        self.settings_of = settings_of  # module -> its Settings

    def collect(self):
        errors = GaugeMetricFamily("disgrafs_lab_program_scrape_error",
                                   "1 if the program's maps could not be read at this scrape.",
                                   labels=["program"])
        for name, module in programs.all_programs().items():
            try:
                yield from module.metrics(self.settings_of(module))
                errors.add_metric([name], 0)
            except LabError as exc:
                log.warning("%s: %s", name, exc)
                errors.add_metric([name], 1)
        yield errors


def registry(settings_of, only: str | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    if only is None:
        reg.register(ProgramsCollector(settings_of))
    else:  # one program's families only (e.g. labctl redis-latency --prometheus)
        module = programs.get(only)
        reg.register(_One(lambda: module.metrics(settings_of(module))))
    return reg


class _One:
    def __init__(self, families):
        self.families = families

    def collect(self):
        yield from self.families()


def text(settings_of, only: str | None = None) -> str:
    return generate_latest(registry(settings_of, only)).decode()


def serve(settings_of, listen: str) -> None:
    """Serve /metrics on HOST:PORT until interrupted."""
    host, _, port = listen.rpartition(":")
    try:
        start_http_server(int(port), addr=host or "0.0.0.0", registry=registry(settings_of))
    except (ValueError, OSError) as exc:
        raise LabError(f"cannot listen on {listen!r}: {exc} (use ADDRESS:PORT, e.g. 127.0.0.1:9435)") from None
    print(f"labctl exporter: http://{listen}/metrics", flush=True)
    while True:
        time.sleep(3600)
