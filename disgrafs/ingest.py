"""Live ingest: files created, changed or deleted directly in the data directory.

In the lab the data directory is a JuiceFS mount that other machines mount
too (x-DisGraFS's clients wrote straight into it). inotify sees only this
kernel's writes, not another JuiceFS client's, so the server rescans instead:
every ``reconcile_interval`` seconds it lists the top of the data directory
(one ``readdir`` + ``lstat`` per file, served by JuiceFS's metadata engine)
and compares each file's (size, mtime, inode) with the previous scan.

* a name that is gone: its node (and tags no other file has) is deleted;
* a new or changed name: once it has looked the same in two scans in a row
  (a file still being written is not hashed over and over), it is hashed; a
  new file gets a node and is queued for tagging, a changed one (other
  sha256) gets its new size/hash/type and is tagged again.

Uploads and deletions through the API race with a scan; they never make it
do the wrong thing because every decision is taken on the graph thread
(which serialises all graph calls) and checks, at that moment, the names the
server is publishing or deleting (``FileStore.publishing`` /
``FileStore.deleting_names``) and the file on disk again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import uuid
from datetime import datetime, timezone

from .graph import FileRecord
from .storage import detect_mime

log = logging.getLogger("disgrafs.ingest")


def signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Reconciler:
    def __init__(self, core):
        self.core = core
        self.store = core.store
        self.snapshot: dict[str, tuple[int, int, int]] = {}
        self.waiting: dict[str, tuple[int, int, int]] = {}  # changed at the last scan: settle first
        self.passes = 0
        self._task: asyncio.Task | None = None

    def start(self, interval: float) -> None:
        if interval > 0:
            self._task = asyncio.create_task(self._loop(interval), name="reconcile")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the graph or the mount is down: try again next time
                log.warning("reconcile pass failed; retrying in %g s", interval, exc_info=True)

    async def run_once(self) -> dict:
        core = self.core
        on_disk = await core.io(self.store.scan)
        counts = {"added": 0, "changed": 0, "removed": 0}
        for name in [n for n in self.snapshot if n not in on_disk]:
            if await core.gcall(self._remove_if_gone, name):
                counts["removed"] += 1
            self.snapshot.pop(name, None)
        for name in [n for n in self.waiting if n not in on_disk]:
            del self.waiting[name]
        for name, st in on_disk.items():
            sig = signature(st)
            if self.snapshot.get(name) == sig:
                continue
            if self.waiting.get(name) != sig:
                self.waiting[name] = sig  # look again at the next scan
                continue
            del self.waiting[name]
            outcome = await self._ingest(name, st)
            if outcome is not None:
                self.snapshot[name] = sig
            if outcome in counts:
                counts[outcome] += 1
        self.passes += 1
        if any(counts.values()):
            log.info("data directory changed behind the server's back: %(added)d file(s) added, "
                     "%(changed)d changed, %(removed)d removed", counts)
            core.metrics.files.set(await core.g("count_files"))
        return counts

    def _remove_if_gone(self, graph, name: str) -> bool:
        """Graph thread: delete the node of a file that disappeared from disk."""
        if name in self.store.deleting_names or _is_regular(self.store.path(name)):
            return False
        rec = graph.get_file_by_name(name)
        return rec is not None and graph.delete_file(rec.id)

    async def _ingest(self, name: str, st: os.stat_result) -> str | None:
        """A new or changed file, stable for one interval. Returns what was done,
        "known" when nothing was needed, or None to look again next time."""
        core = self.core
        if name in self.store.publishing:
            return None
        rec = await core.g("get_file_by_name", name)
        if rec is not None and name not in self.snapshot and rec.size == st.st_size:
            return "known"  # uploaded through the server (or known since the start)
        try:
            size, sha256, head = await core.io(self.store.hash_file, name)
            after = await core.io(os.lstat, self.store.path(name))
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None
        if signature(after) != signature(st) or size != st.st_size:
            return None  # written to while we read it: next time
        mime = detect_mime(name, head)
        if rec is None:
            new = FileRecord(uuid.uuid4().hex, name, size, sha256, mime, _iso(st.st_mtime))
            if not await core.gcall(self._add_if_absent, new):
                return None
            core.tagging.enqueue(new.id)
            return "added"
        if rec.sha256 == sha256:
            return "known"
        await core.g("update_content", rec.id, size, sha256, mime)
        core.tagging.enqueue(rec.id)
        return "changed"

    def _add_if_absent(self, graph, rec: FileRecord) -> bool:
        """Graph thread: add the node unless an upload of that name is being
        committed or has committed since the scan."""
        if rec.name in self.store.publishing or graph.get_file_by_name(rec.name) is not None:
            return False
        graph.add_file(rec)
        return True


def _is_regular(path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False
