#!/usr/bin/env python3
"""Tagging benchmark (not a test): the same corpus tagged in-process, by the
process executor and by the Ray executor; writes bench/results/tagging.{json,md}.

Corpus: the labelled search corpus (tests/disgrafs/search_corpus, 28 English
and Chinese texts), the sample PDF, JPEG, WAV and MP4 of tests/disgrafs/samples.py,
and, when espeak-ng is installed, a spoken WAV (speech recognition is by far
the most expensive tagger). Every executor tags every file ``--rounds`` times;
the first round also pays each worker's one-time loads (jieba's dictionary,
the PocketSphinx model), so it is reported apart.

    python bench/tagging_bench.py [--rounds 3] [--workers 2] [--no-ray]

Ray runs as the server runs it without --ray-address: a private local
instance on 127.0.0.1 (see disgrafs/tagging/executors.py), so on one machine
it measures Ray's overhead, not a cluster's speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "disgrafs"))

from disgrafs.storage import detect_mime  # noqa: E402
from disgrafs.tagging import run_taggers  # noqa: E402
from disgrafs.tagging.executors import ProcessExecutor, RayExecutor  # noqa: E402

SPOKEN = ("Photosynthesis happens in the leaf. Photosynthesis needs sunlight and water. "
          "The chloroplast turns light into sugar. Photosynthesis feeds the plant.")


def build_corpus(where: Path) -> list[dict]:
    import samples

    files: dict[str, bytes] = {}
    corpus = ROOT / "tests" / "disgrafs" / "search_corpus"
    for path in sorted(corpus.iterdir()):
        if path.name != "queries.json":
            files[path.name] = path.read_bytes()
    files.update(samples.write_samples(where / "samples", big_bytes=64 * 1024))
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "120", "-w", str(where / "spoken.wav"), SPOKEN],
                       check=True, timeout=60)
        files["spoken.wav"] = (where / "spoken.wav").read_bytes()
    infos = []
    for name, data in files.items():
        path = where / name
        path.write_bytes(data)
        infos.append({"path": str(path), "name": name, "mime": detect_mime(name, data[:8192]), "size": len(data)})
    return infos


async def run_executor(executor, infos: list[dict], rounds: int, parallel: int) -> dict:
    t0 = time.monotonic()
    await executor.start()
    start_s = time.monotonic() - t0
    per_round, per_file = [], {}
    sem = asyncio.Semaphore(parallel)

    async def one(info):
        async with sem:
            t = time.monotonic()
            await executor.run(info, None)
            per_file.setdefault(info["name"], []).append(time.monotonic() - t)

    try:
        for _ in range(rounds):
            t = time.monotonic()
            await asyncio.gather(*(one(i) for i in infos))
            per_round.append(time.monotonic() - t)
    finally:
        await executor.close()
    return summarize(start_s, per_round, per_file, len(infos))


def run_inprocess(infos: list[dict], rounds: int) -> dict:
    per_round, per_file = [], {}
    for _ in range(rounds):
        t = time.monotonic()
        for info in infos:
            f = time.monotonic()
            run_taggers(info)
            per_file.setdefault(info["name"], []).append(time.monotonic() - f)
        per_round.append(time.monotonic() - t)
    return summarize(0.0, per_round, per_file, len(infos))


def summarize(start_s, per_round, per_file, n) -> dict:
    warm = per_round[1:] or per_round
    slowest = sorted(per_file.items(), key=lambda kv: -statistics.median(kv[1][1:] or kv[1]))[:3]
    return {
        "start_seconds": round(start_s, 2),
        "first_round_seconds": round(per_round[0], 2),
        "warm_round_seconds": round(statistics.median(warm), 2),
        "files_per_second_warm": round(n / statistics.median(warm), 1),
        "slowest_files_warm_seconds": {k: round(statistics.median(v[1:] or v), 3) for k, v in slowest},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "tagging"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        infos = build_corpus(Path(tmp))
        results = {"in-process (1 thread)": run_inprocess(infos, args.rounds)}
        results[f"process executor ({args.workers} workers)"] = asyncio.run(
            run_executor(ProcessExecutor(args.workers, timeout=300), infos, args.rounds, args.workers))
        if not args.no_ray:
            import importlib.util

            if importlib.util.find_spec("ray") is None:
                print("ray is not installed (pip install -e '.[ray]'): skipping it", file=sys.stderr)
            else:
                results[f"ray executor (local, {args.workers} CPUs)"] = asyncio.run(
                    run_executor(RayExecutor(timeout=300, start_timeout=120, workers=args.workers),
                                 infos, args.rounds, args.workers))
    doc = {
        "corpus_files": len(infos),
        "corpus_bytes": sum(i["size"] for i in infos),
        "rounds": args.rounds,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    lines = [f"# Tagging: {len(infos)} files ({doc['corpus_bytes'] // 1024} KiB), {args.rounds} rounds",
             "", f"{os.cpu_count()} CPUs, load average at the end {doc['machine']['load_average']}", "",
             "| executor | start s | first round s | warm round s | files/s warm | slowest (warm, s) |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        slow = ", ".join(f"{k} {v}" for k, v in r["slowest_files_warm_seconds"].items())
        lines.append(f"| {name} | {r['start_seconds']} | {r['first_round_seconds']} | {r['warm_round_seconds']} "
                     f"| {r['files_per_second_warm']} | {slow} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
