"""Many clients at once: one name never ends up with mixed or lost content."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import sha

N = 16


def _race(fn, n=N):
    """Start n calls together (a barrier) and return their results."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait(10)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_same_name_exactly_one_wins(server):
    bodies = [os.urandom(512 * 1024) for _ in range(N)]
    results = _race(lambda i: server.upload("contested.bin", bodies[i]))
    statuses = sorted(r.status for r in results)
    assert statuses == [201] + [409] * (N - 1), statuses
    winner = next(r.json() for r in results if r.status == 201)
    stored = (server.data / "contested.bin").read_bytes()
    assert sha(stored) == winner["sha256"] and stored in bodies
    assert server.names().count("contested.bin") == 1
    assert not server.parts()


def test_same_name_with_rename_all_kept(server):
    bodies = [os.urandom(64 * 1024) for _ in range(N)]
    results = _race(lambda i: server.upload("shared.txt", bodies[i], conflict="rename"))
    assert all(r.status == 201 for r in results), results
    names = {r.json()["name"] for r in results}
    assert names == {"shared.txt"} | {f"shared ({i}).txt" for i in range(2, N + 1)}
    for r in results:
        f = r.json()
        assert sha((server.data / f["name"]).read_bytes()) == f["sha256"]
    assert {sha(b) for b in bodies} == {r.json()["sha256"] for r in results}


def test_different_names_in_parallel(server):
    bodies = {f"parallel-{i:02d}.bin": os.urandom(256 * 1024 + i) for i in range(24)}
    items = list(bodies.items())
    results = _race(lambda i: server.upload(*items[i]), n=len(items))
    assert all(r.status == 201 for r in results), results
    for r in results:
        f = r.json()
        assert f["sha256"] == sha(bodies[f["name"]])
        got = server.get(f"/api/files/{f['id']}/content")
        assert got.body == bodies[f["name"]]
    assert set(bodies) <= set(server.names())


def test_uploads_and_deletes_interleaved(server):
    files = [server.upload_ok(f"churn-{i}.txt", b"churn %d walrus walrus" % i) for i in range(N)]

    def work(i):
        if i % 2:
            return server.request("DELETE", f"/api/files/{files[i]['id']}", auth=True).status
        return server.upload(f"churn-new-{i}.txt", b"fresh walrus walrus").status

    statuses = _race(work)
    assert statuses == [204 if i % 2 else 201 for i in range(N)]
    names = set(server.names())
    for i in range(N):
        assert (f"churn-{i}.txt" in names) == (i % 2 == 0)
        assert (server.data / f"churn-{i}.txt").exists() == (i % 2 == 0)
