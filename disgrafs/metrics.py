"""Prometheus metrics, exposed at /metrics."""

from __future__ import annotations

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector,
                               ProcessCollector, generate_latest)
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported)
from prometheus_client import disable_created_metrics

disable_created_metrics()  # no *_created series: they double the output for nothing


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.requests = Counter("disgrafs_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("disgrafs_http_request_seconds", "Time to answer (headers sent)",
                                 ["method", "route"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.uploads = Counter("disgrafs_uploads_total", "Upload attempts by outcome", ["outcome"], registry=r)
        self.upload_bytes = Counter("disgrafs_upload_bytes_total", "Bytes stored by completed uploads", registry=r)
        self.download_bytes = Counter("disgrafs_download_bytes_total", "Bytes sent by downloads (sendfile)", registry=r)
        self.deletes = Counter("disgrafs_deletes_total", "Files deleted", registry=r)
        self.tag_queue = Gauge("disgrafs_tag_queue_length", "Files waiting to be tagged", registry=r)
        self.tagged = Counter("disgrafs_tagged_total", "Tagging runs by result", ["status"], registry=r)
        self.tag_seconds = Histogram("disgrafs_tag_seconds", "Time to tag one file", registry=r,
                                     buckets=(.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120))
        self.files = Gauge("disgrafs_files", "Files in the graph (at start and after changes)", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
