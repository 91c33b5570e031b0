"""Live ingest: files written straight into the data directory by another
process (in the lab, another JuiceFS client, whose writes inotify cannot see)
appear, change and disappear in the graph within seconds, found by the
periodic reconcile."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from conftest import sha, tag_names


def wait_for(cond, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def other_process(code: str, *args: str) -> None:
    """Run Python in a separate process, as another client of the mount would."""
    subprocess.run([sys.executable, "-c", code, *args], check=True, timeout=30)


WRITE = "import sys; open(sys.argv[1], 'wb').write(sys.argv[2].encode())"
APPEND = "import sys; open(sys.argv[1], 'ab').write(sys.argv[2].encode())"
REMOVE = "import os, sys; os.unlink(sys.argv[1])"


def by_name(srv, name):
    items = srv.get("/api/files?limit=1000").json()["items"]
    return next((f for f in items if f["name"] == name), None)


def test_created_changed_deleted_behind_the_servers_back(make_server):
    srv = make_server("--reconcile-interval", "0.5")
    path = srv.data / "dropped.md"
    started = time.monotonic()
    other_process(WRITE, str(path), "# Okapi\n\nokapi okapi forest giraffe")
    f = wait_for(lambda: by_name(srv, "dropped.md"), what="the new file in the graph")
    assert time.monotonic() - started < 10
    f = srv.wait_tagged(f["id"])
    assert "okapi" in tag_names(f, "keyword") and f["sha256"] == sha(path.read_bytes())
    assert srv.get(f"/api/files/{f['id']}/content").body == path.read_bytes()

    other_process(APPEND, str(path), "\n\nquetzal quetzal quetzal bird")
    wait_for(lambda: srv.file(f["id"])["sha256"] == sha(path.read_bytes()), what="the change")
    g = wait_for(lambda: (x := srv.file(f["id"]))["tag_status"] == "done" and "quetzal" in tag_names(x) and x,
                 what="re-tagging")
    assert g["size"] == path.stat().st_size and g["id"] == f["id"]

    other_process(REMOVE, str(path))
    wait_for(lambda: srv.get(f"/api/files/{f['id']}").status == 404, what="the node to go")
    tags = {t["name"] for t in srv.get("/api/tags?limit=1000").json()["items"]}
    assert "okapi" not in tags and "quetzal" not in tags  # no orphan tags
    assert srv.get("/healthz").status == 200


def test_a_file_still_being_written_is_indexed_once_complete(make_server):
    srv = make_server("--reconcile-interval", "0.3")
    path = srv.data / "growing.log"
    with open(path, "wb") as fh:  # this process writes slowly, over several scans
        for i in range(8):
            fh.write(b"line %d lemur lemur\n" % i)
            fh.flush()
            time.sleep(0.2)
    f = wait_for(lambda: (x := by_name(srv, "growing.log")) and x["sha256"] == sha(path.read_bytes()) and x,
                 what="the complete file")
    assert f["size"] == path.stat().st_size


def test_api_uploads_and_deletes_during_scans_are_not_doubled(make_server):
    srv = make_server("--reconcile-interval", "0.05")
    errors = []

    def client(i):
        try:
            for j in range(6):
                f = srv.upload_ok(f"race-{i}-{j}.txt", b"race %d %d" % (i, j))
                if j % 3 == 2:
                    assert srv.request("DELETE", f"/api/files/{f['id']}", auth=True).status == 204
        except AssertionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    time.sleep(1)  # a few more scans
    names = srv.names()
    assert len(names) == len(set(names)), "a file has two nodes"
    expected = {f"race-{i}-{j}.txt" for i in range(4) for j in range(6) if j % 3 != 2}
    assert set(names) == expected
    assert {p.name for p in srv.data.iterdir() if not p.name.startswith(".")} == expected


def test_names_that_are_not_utf8_on_disk_are_skipped(make_server):
    srv = make_server("--reconcile-interval", "0.3")
    import os

    with open(os.path.join(os.fsencode(srv.data), b"latin1-\xe9.txt"), "wb") as fh:
        fh.write(b"not utf-8 in the name")
    (srv.data / "fine.txt").write_bytes(b"fine")
    wait_for(lambda: by_name(srv, "fine.txt"), what="the valid file")
    assert srv.names() == ["fine.txt"]
    assert srv.get("/healthz").status == 200
