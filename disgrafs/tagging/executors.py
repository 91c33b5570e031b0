"""Where taggers run. Each executor has ``async run(info, taggers) -> result``
(see base.run_taggers), ``start()`` and ``close()``.

* ``process`` (default): long-lived worker processes on the server host. A
  job that exceeds the time limit has its worker killed and replaced, and
  each worker has a memory ceiling, so a hostile PDF cannot hang or bloat the
  server; tagging never competes with requests for the GIL.
* ``thread``: threads of the server process (no isolation; for debugging).
* ``ray``: ``ray.remote`` tasks on a Ray cluster, as the original DisGraFS
  did. The workers read the file at the path the server sees, so they must
  mount the same JuiceFS volume at the same place and have disgrafs installed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os

from .base import run_taggers

WORKER_MEMORY_LIMIT = 3 * 1024**3


class TaggingTimeout(Exception):
    pass


class TaggingCrashed(Exception):
    pass


def _worker_main(conn, memory_limit: int) -> None:
    """Body of a tagging worker process: answer jobs until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ImportError, ValueError, OSError):
        pass
    os.nice(5)  # requests first, tagging after
    while True:
        try:
            info, taggers = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = run_taggers(info, taggers)
        except MemoryError:
            result = {"tags": [], "errors": {"*": "out of memory"}}
        conn.send(result)


class _Worker:
    def __init__(self, ctx, memory_limit):
        self._ctx, self._limit = ctx, memory_limit
        self._spawn()

    def _spawn(self):
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_worker_main, args=(child, self._limit), daemon=True,
                                      name="disgrafs-tagger")
        self.proc.start()
        child.close()

    def call(self, job, timeout: float):
        """Blocking: send one job, wait for its answer (runs on a thread)."""
        try:
            self.conn.send(job)
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.restart()
            raise TaggingCrashed("the tagging worker died (crash or memory limit)") from None
        self.restart()
        raise TaggingTimeout(f"tagging took longer than {timeout:g} s")

    def restart(self):
        self.kill()
        self._spawn()

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class ProcessExecutor:
    name = "process"

    def __init__(self, workers: int = 1, timeout: float = 120.0, memory_limit: int = WORKER_MEMORY_LIMIT):
        self.n, self.timeout, self.memory_limit = workers, timeout, memory_limit
        self._workers: list[_Worker] = []
        self._idle: asyncio.Queue | None = None
        self._threads = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="tag-wait")

    async def start(self):
        # spawn, not fork: the server has threads (graph, I/O) that fork would copy badly.
        ctx = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        self._workers = await loop.run_in_executor(
            None, lambda: [_Worker(ctx, self.memory_limit) for _ in range(self.n)])
        self._idle = asyncio.Queue()
        for w in self._workers:
            self._idle.put_nowait(w)

    async def run(self, info: dict, taggers: list[str] | None) -> dict:
        worker = await self._idle.get()
        loop = asyncio.get_running_loop()
        done = self._threads.submit(worker.call, (info, taggers), self.timeout)
        # The worker is idle again only when its call has really returned, even
        # if the coroutine awaiting it is cancelled first.
        def release(_):
            try:
                loop.call_soon_threadsafe(self._idle.put_nowait, worker)
            except RuntimeError:  # the loop is closed: shutting down
                pass

        done.add_done_callback(release)
        return await asyncio.wrap_future(done)

    async def close(self):
        for w in self._workers:
            w.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)


class ThreadExecutor:
    name = "thread"

    def __init__(self, workers: int = 1, timeout: float = 120.0):
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="tagger")

    async def start(self):
        pass

    async def run(self, info: dict, taggers: list[str] | None) -> dict:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, run_taggers, info, taggers)
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except asyncio.TimeoutError:
            raise TaggingTimeout(f"tagging took longer than {self.timeout:g} s "
                                 "(the thread cannot be stopped; use the process executor)") from None

    async def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "", timeout: float = 120.0):
        self.address, self.timeout = address, timeout
        self._remote = None

    async def start(self):
        try:
            import ray
        except ImportError:
            raise RuntimeError("tagger_executor=ray needs the 'ray' package: pip install 'ray[default]'") from None
        self._ray = ray
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: ray.init(address=self.address or None,
                                                          ignore_reinit_error=True,
                                                          log_to_driver=False))
        self._remote = ray.remote(num_cpus=1, max_retries=1)(run_taggers)

    async def run(self, info: dict, taggers: list[str] | None) -> dict:
        ref = self._remote.remote(info, taggers)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(ref.future()), self.timeout)
        except asyncio.TimeoutError:
            self._ray.cancel(ref, force=True)
            raise TaggingTimeout(f"tagging took longer than {self.timeout:g} s") from None
        except self._ray.exceptions.RayError as exc:
            raise TaggingCrashed(f"ray task failed: {exc}") from None

    async def close(self):
        if self._remote is not None:
            self._ray.shutdown()


def make_executor(cfg):
    if cfg.tagger_executor == "thread":
        return ThreadExecutor(cfg.tagger_workers, cfg.tag_timeout)
    if cfg.tagger_executor == "ray":
        return RayExecutor(cfg.ray_address, cfg.tag_timeout)
    return ProcessExecutor(cfg.tagger_workers, cfg.tag_timeout)
