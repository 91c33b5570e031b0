#!/usr/bin/env python3
"""DisGraFS server benchmark (not a test): writes bench/results/disgrafs.json.

* download: one big file through disgrafs (aiohttp FileResponse -> sendfile)
  vs nginx (sendfile on) serving the very same file; ratio disgrafs/nginx.
* upload: the same file streamed to disgrafs (hashing, fsync, link) vs `cp`
  into the same directory, with and without an fsync; ratios disgrafs/cp.
* small files: concurrent uploads of small files per second (+ latency).

The client is curl for the big transfers (the same client for both servers)
and aiohttp for the small uploads. Everything stays on 127.0.0.1.

    python bench/disgrafs_bench.py                  # 1 GiB, 3 runs each
    DISGRAFS_BENCH_SIZE=256M python bench/disgrafs_bench.py --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from disgrafs.config import parse_size

ROOT = Path(__file__).resolve().parent.parent

# a write token made for this run (never a literal in git)
TOKEN = secrets.token_urlsafe(24)
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)
        fh.flush()
        os.fsync(fh.fileno())


def curl(*args: str) -> dict:
    fmt = "%{http_code} %{time_total} %{size_download} %{size_upload}"
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", "-w", fmt, *args], check=True,
                         capture_output=True, text=True).stdout.split()
    code, total, down, up = out[-4:]
    return {"status": int(code), "seconds": float(total), "down": int(float(down)), "up": int(float(up))}


def mbps(nbytes: int, seconds: float) -> float:
    return round(nbytes / seconds / MiB, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def per_gib(seconds: float, nbytes: int) -> float:
    """CPU seconds per GiB: unlike throughput, barely affected by other load."""
    return round(seconds / (nbytes / 1024**3), 3)


class Disgrafs:
    def __init__(self, data: Path, max_upload: int):
        self.port = free_port()
        self.log = open(data.parent / "disgrafs.log", "wb")
        env = dict(os.environ, DISGRAFS_TOKEN=TOKEN, XDG_CONFIG_HOME=str(data.parent / "config"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "disgrafs", "serve", "--data", str(data), "--host", "127.0.0.1",
             "--port", str(self.port), "--max-upload", str(max_upload)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                if curl("-o", "/dev/null", self.url + "/healthz")["status"] == 200:
                    return
            except subprocess.CalledProcessError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"disgrafs failed to start, see {self.log.name}")
            time.sleep(0.1)
        raise SystemExit("disgrafs did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


class Nginx:
    def __init__(self, work: Path, root: Path):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            raise SystemExit("nginx not found: apt-get install nginx-light")
        self.port = free_port()
        conf = work / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
user root;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    server {{ listen 127.0.0.1:{self.port}; root {root}; }}
}}
""")
        self.proc = subprocess.Popen([nginx, "-e", str(work / "nginx-error.log"), "-p", str(work), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                curl("-o", "/dev/null", self.url + "/")
                return
            except subprocess.CalledProcessError:
                time.sleep(0.05)
        raise SystemExit(f"nginx did not start, see {work}/nginx-error.log")

    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return int(children[0])

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bench_big(work: Path, size: int, runs: int) -> dict:
    data = work / "data"
    src = work / "source.bin"
    print(f"creating a {size / MiB:.0f} MiB file...", flush=True)
    make_file(src, size)
    server = Disgrafs(data, max_upload=size + MiB)
    auth = ["-H", f"Authorization: Bearer {TOKEN}"]
    try:
        up, cp, cp_sync = [], [], []
        up_cpu, cp_cpu = [], []
        file_id = None
        for i in range(runs):
            # disgrafs: stream + sha256 + fsync + link (curl sends the file from the page cache)
            resp = work / "resp.json"
            c0 = cpu_seconds(server.proc.pid)
            r = curl("-X", "POST", "-T", str(src), "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
                     *auth, "-o", str(resp), f"{server.url}/api/files?name=upload-{i}.bin")
            assert r["status"] == 201, resp.read_text()
            up.append(mbps(size, r["seconds"]))
            up_cpu.append(per_gib(cpu_seconds(server.proc.pid) - c0, size))
            fid = json.loads(resp.read_text())["id"]
            if i < runs - 1:
                curl("-X", "DELETE", *auth, "-o", "/dev/null", f"{server.url}/api/files/{fid}")
            else:
                file_id = fid  # kept for the download benchmark
            # cp into the same directory, then the same with an fsync (what disgrafs guarantees)
            dst = data / f"copy-{i}.bin"
            t = time.perf_counter()
            subprocess.run(["cp", str(src), str(dst)], check=True)
            cp.append(mbps(size, time.perf_counter() - t))
            dst.unlink()
            t, c0 = time.perf_counter(), children_cpu()
            subprocess.run(["cp", str(src), str(dst)], check=True)
            cp_cpu.append(per_gib(children_cpu() - c0, size))
            fd = os.open(dst, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            cp_sync.append(mbps(size, time.perf_counter() - t))
            dst.unlink()
            print(f"  upload run {i + 1}: disgrafs {up[-1]} MiB/s, cp {cp[-1]} MiB/s, cp+fsync {cp_sync[-1]} MiB/s",
                  flush=True)

        # the same bytes on disk, served by both
        stored = data / f"upload-{runs - 1}.bin"
        os.chmod(work, 0o755)
        nginx = Nginx(work, data)
        try:
            ours, theirs = [], []
            ours_cpu, theirs_cpu = [], []
            worker = nginx.worker_pid()
            for i in range(runs):
                c0 = cpu_seconds(server.proc.pid)
                r = curl("-o", "/dev/null", f"{server.url}/api/files/{file_id}/content")
                assert r["status"] == 200 and r["down"] == size, r
                ours.append(mbps(size, r["seconds"]))
                ours_cpu.append(per_gib(cpu_seconds(server.proc.pid) - c0, size))
                c0 = cpu_seconds(worker)
                r = curl("-o", "/dev/null", f"{nginx.url}/{stored.name}")
                assert r["status"] == 200 and r["down"] == size, r
                theirs.append(mbps(size, r["seconds"]))
                theirs_cpu.append(per_gib(cpu_seconds(worker) - c0, size))
                print(f"  download run {i + 1}: disgrafs {ours[-1]} MiB/s, nginx {theirs[-1]} MiB/s", flush=True)
        finally:
            nginx.stop()
    finally:
        server.stop()
    med = statistics.median
    return {
        "upload": {"disgrafs_MiBps": up, "cp_MiBps": cp, "cp_fsync_MiBps": cp_sync,
                   "ratio_vs_cp": round(med(up) / med(cp), 3),
                   "ratio_vs_cp_fsync": round(med(up) / med(cp_sync), 3),
                   "disgrafs_cpu_s_per_GiB": up_cpu, "cp_cpu_s_per_GiB": cp_cpu},
        "download": {"disgrafs_MiBps": ours, "nginx_MiBps": theirs,
                     "ratio_vs_nginx": round(med(ours) / med(theirs), 3),
                     "disgrafs_cpu_s_per_GiB": ours_cpu, "nginx_worker_cpu_s_per_GiB": theirs_cpu},
    }


async def small_uploads(url: str, count: int, size: int, concurrency: int) -> dict:
    import aiohttp

    body = os.urandom(size)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def client(session):
        while not queue.empty():
            i = queue.get_nowait()
            t = time.perf_counter()
            async with session.post(f"{url}/api/files", params={"name": f"small-{i:06d}.bin"}, data=body,
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - t)

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"files": count, "file_bytes": size, "concurrency": concurrency, "statuses": statuses,
            "seconds": round(elapsed, 2), "uploads_per_second": round(count / elapsed, 1),
            "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 2),
            "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def bench_small(work: Path, count: int, size: int, concurrency: int) -> dict:
    server = Disgrafs(work / "small-data", max_upload=MiB)
    try:
        print(f"{count} uploads of {size} B, {concurrency} at a time...", flush=True)
        result = asyncio.run(small_uploads(server.url, count, size, concurrency))
        print(f"  {result['uploads_per_second']} uploads/s, p50 {result['latency_ms_p50']} ms, "
              f"p99 {result['latency_ms_p99']} ms", flush=True)
        return result
    finally:
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default=os.environ.get("DISGRAFS_BENCH_SIZE", "1G"),
                   help="big file size (env DISGRAFS_BENCH_SIZE; default 1G)")
    p.add_argument("--runs", type=int, default=int(os.environ.get("DISGRAFS_BENCH_RUNS", "3")))
    p.add_argument("--small-files", type=int, default=int(os.environ.get("DISGRAFS_BENCH_SMALL_FILES", "2000")))
    p.add_argument("--small-size", default="4K")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--dir", default=os.environ.get("DISGRAFS_BENCH_DIR", "/var/tmp"),
                   help="where to work (a disk, not tmpfs; default /var/tmp)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "disgrafs.json"))
    args = p.parse_args()
    if not shutil.which("curl"):
        raise SystemExit("curl not found: apt-get install curl")
    size = parse_size(args.size)
    load_before = [round(x, 2) for x in os.getloadavg()]
    work = Path(tempfile.mkdtemp(prefix="disgrafs-bench-", dir=args.dir))
    try:
        big = bench_big(work, size, args.runs)
        small = bench_small(work, args.small_files, parse_size(args.small_size), args.concurrency)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import aiohttp

    fs = subprocess.run(["df", "-T", args.dir], capture_output=True, text=True).stdout.splitlines()[-1].split()
    result = {
        "benchmark": "disgrafs",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                 "load_average_before": load_before,
                 "load_average_after": [round(x, 2) for x in os.getloadavg()],
                 "aiohttp": aiohttp.__version__, "filesystem": fs[1] if len(fs) > 1 else "?",
                 "nginx": re.sub(r"^.*nginx/", "", subprocess.run(["nginx", "-v"], capture_output=True,
                                                                 text=True).stderr.strip())},
        "file_bytes": size, "runs": args.runs, "statistic": "median of runs",
        **big,
        "small_uploads": small,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\ndownload: disgrafs/nginx = {big['download']['ratio_vs_nginx']}")
    print(f"upload:   disgrafs/cp = {big['upload']['ratio_vs_cp']}, "
          f"disgrafs/(cp+fsync) = {big['upload']['ratio_vs_cp_fsync']}")
    print(f"small:    {small['uploads_per_second']} uploads/s ({small['concurrency']} concurrent)")
    print(f"server CPU per GiB: upload {statistics.median(big['upload']['disgrafs_cpu_s_per_GiB'])} s "
          f"(cp {statistics.median(big['upload']['cp_cpu_s_per_GiB'])} s), download "
          f"{statistics.median(big['download']['disgrafs_cpu_s_per_GiB'])} s "
          f"(nginx {statistics.median(big['download']['nginx_worker_cpu_s_per_GiB'])} s)")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
