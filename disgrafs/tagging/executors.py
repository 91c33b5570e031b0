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
import logging
import multiprocessing
import os
import threading

from .base import run_taggers

log = logging.getLogger("disgrafs.tagging")

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
    """Tagging jobs as Ray tasks.

    * ``address`` set: connect to that cluster (``ray start --head`` elsewhere).
      Ray's own settings (RAY_AUTH_MODE, RAY_AUTH_TOKEN[_PATH]) apply as the
      cluster's administrator set them; nothing is generated.
    * no address: start a private single-node Ray for this server, confined to
      127.0.0.1, with its session files in a temporary directory removed at
      stop, token authentication with a token that lives only in this
      process's environment (Ray would otherwise write ~/.ray/auth_token,
      after which a later `ray start` cluster refuses clients without it),
      no usage statistics and no dashboard.

    Connecting (or starting) must finish within ``start_timeout`` seconds:
    ray.init() itself waits far longer for an unreachable address.
    """

    name = "ray"

    def __init__(self, address: str = "", timeout: float = 120.0, start_timeout: float = 60.0,
                 workers: int = 1):
        self.address, self.timeout, self.start_timeout, self.workers = address, timeout, start_timeout, workers
        self._remote = None
        self._ray = None
        self.temp_dir: str | None = None
        self._stop = threading.Event()
        self._stopped = threading.Event()

    def _init(self):
        # Ray reads these when it is imported: set them first.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not self.address:
            import secrets

            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
            # Ray's single-node mode (its default on macOS and Windows): the
            # node's address is 127.0.0.1 instead of this host's network address.
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        import ray

        if not self.address:
            _prepare_local_ray()
        if self.address:
            ray.init(address=self.address, ignore_reinit_error=True, log_to_driver=False,
                     logging_level="WARNING")
            return ray
        import tempfile

        # Ray puts unix sockets in it: keep the path short.
        self.temp_dir = tempfile.mkdtemp(prefix="disgrafs-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        log.info("starting a local Ray (127.0.0.1 only) with its session files in %s", self.temp_dir)
        ray.init(address="local", ignore_reinit_error=True, log_to_driver=False, logging_level="WARNING",
                 include_dashboard=False, num_cpus=self.workers, object_store_memory=80 * 1024**2,
                 _temp_dir=self.temp_dir)
        return ray

    async def start(self):
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise RuntimeError("tagger_executor=ray needs the 'ray' package: pip install 'disgrafs-lab[ray]' "
                               "(or pip install ray)") from None
        # One daemon thread starts Ray, stays until close() and shuts Ray down:
        # * Ray starts its local processes with PR_SET_PDEATHSIG, which fires
        #   when the *thread* that forked them ends: that thread must live on;
        # * a daemon thread, not the loop's executor: if Ray never answers, the
        #   server still stops (an executor thread would be joined at exit).
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def run():
            try:
                try:
                    result = self._init()
                except BaseException as exc:  # noqa: BLE001 - handed to the loop
                    loop.call_soon_threadsafe(lambda e=exc: done.done() or done.set_exception(e))
                    return
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))
                self._stop.wait()  # close(), or the start took too long
                result.shutdown()
            finally:
                if self.temp_dir:
                    import shutil

                    shutil.rmtree(self.temp_dir, ignore_errors=True)
                self._stopped.set()

        threading.Thread(target=run, name="ray-init", daemon=True).start()
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
        try:
            self._ray = await asyncio.wait_for(asyncio.shield(done), self.start_timeout)
        except asyncio.TimeoutError:
            self._stop.set()
            raise RuntimeError(f"could not connect to {where} within {self.start_timeout:g} s "
                               "(ray_start_timeout): is the address right (HOST:6379 of `ray start --head`) "
                               "and reachable from this host?") from None
        except Exception as exc:
            raise RuntimeError(f"could not connect to {where}: {type(exc).__name__}: "
                               f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
        self._remote = self._ray.remote(num_cpus=1, max_retries=1)(run_taggers)

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
        self._stop.set()  # the Ray thread shuts Ray down and removes its session files
        if self._ray is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._stopped.wait, 60)


def _prepare_local_ray() -> None:
    """Make a Ray imported before the environment was set (by an embedding
    program) see it too: the token, and single-node mode on 127.0.0.1."""
    try:
        from ray._private import ray_constants
        from ray._raylet import AuthenticationTokenLoader, Config

        ray_constants.ENABLE_RAY_CLUSTER = False
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):  # another Ray version: it reads the environment at import
        pass


def make_executor(cfg):
    if cfg.tagger_executor == "thread":
        return ThreadExecutor(cfg.tagger_workers, cfg.tag_timeout)
    if cfg.tagger_executor == "ray":
        return RayExecutor(cfg.ray_address, cfg.tag_timeout, cfg.ray_start_timeout, cfg.tagger_workers)
    return ProcessExecutor(cfg.tagger_workers, cfg.tag_timeout)
