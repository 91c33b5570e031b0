"""The tagging queue: off the request path, status on the File node.

A file enters the queue after its upload is committed (status ``pending``),
on re-tag requests, and at start-up for every file whose status is still
``pending`` (the queue itself is in memory; the status in the graph is what
survives a restart). A worker runs the taggers through the executor (the API
shows the file as ``running`` meanwhile) and stores the tags and
``done``/``failed`` in one graph transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from ..graph import DONE, FAILED, TagRecord

log = logging.getLogger("disgrafs.tagging")


class TaggingService:
    def __init__(self, graph_call, store, executor, taggers: list[str] | None, workers: int, metrics):
        self.graph = graph_call  # async (fn, *args) -> result, on the graph thread
        self.store = store
        self.executor = executor
        self.taggers = taggers or None
        self.n_workers = workers
        self.metrics = metrics
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    async def start(self):
        await self.executor.start()
        self._tasks = [asyncio.create_task(self._work(), name=f"tagger-{i}") for i in range(self.n_workers)]

    async def close(self):
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.executor.close()

    def enqueue(self, file_id: str) -> None:
        if file_id in self._running:
            self._again.add(file_id)  # re-tag after the current run
        elif file_id not in self._queued:
            self._queued.add(file_id)
            self.queue.put_nowait(file_id)
        self.metrics.tag_queue.set(self.queue.qsize())

    def is_running(self, file_id: str) -> bool:
        return file_id in self._running

    def stats(self) -> dict:
        return {"queued": self.queue.qsize(), "running": len(self._running),
                "executor": self.executor.name, "workers": self.n_workers}

    async def _work(self):
        while True:
            file_id = await self.queue.get()
            self._queued.discard(file_id)
            self._running.add(file_id)
            self.metrics.tag_queue.set(self.queue.qsize())
            try:
                await self._tag(file_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the graph failed: leave status as is, retried at next start
                log.exception("tagging %s failed", file_id)
            finally:
                self._running.discard(file_id)
                if file_id in self._again:
                    self._again.discard(file_id)
                    self.enqueue(file_id)

    async def _tag(self, file_id: str):
        rec = await self.graph("get_file", file_id)
        if rec is None:
            return  # deleted meanwhile
        # "running" is not written to the graph (one transaction less per file):
        # the API reports it from is_running(), and after a restart a file that
        # was running is simply pending again.
        info = {"path": str(self.store.path(rec.name)), "name": rec.name, "mime": rec.mime, "size": rec.size}
        started = time.monotonic()
        try:
            result = await self.executor.run(info, self.taggers)
            errors = result.get("errors", {})
            tags = [TagRecord(name, kind) for name, kind in result.get("tags", [])]
        except Exception as exc:  # timeout, crashed worker, Ray failure
            errors, tags = {"executor": f"{type(exc).__name__}: {exc}"}, []
        self.metrics.tag_seconds.observe(time.monotonic() - started)
        status = FAILED if errors else DONE
        error = "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stored = await self.graph("set_tags", file_id, tags, status, error, now)
        if stored:
            self.metrics.tagged.labels(status=status).inc()
            if errors:
                log.warning("tagging %s (%s): %s", rec.name, file_id, error)
