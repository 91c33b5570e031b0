"""Interrupted uploads, size limits, crashes and restarts: nothing partial, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import time

import pytest

from conftest import TOKEN, sha, tag_names


def wait_for(cond, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_upload(srv, name: str, length: int | None, token: str = TOKEN) -> socket.socket:
    """Headers of an upload; the caller sends (part of) the body."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    s.sendall(f"POST /api/files?name={name} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
              f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n".encode())
    return s


def reset(s: socket.socket) -> None:
    """Close with RST, like a client that crashed."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


@pytest.mark.parametrize("close", ["reset", "fin"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_interrupted_upload_leaves_nothing(server, chunked, close):
    """The client dies (RST) or just stops and closes (FIN) half-way through."""
    name = f"interrupted-{'chunked' if chunked else 'length'}-{close}.bin"
    s = open_upload(server, name, None if chunked else 8 * 1024 * 1024)
    half = os.urandom(2 * 1024 * 1024)
    s.sendall(b"%x\r\n" % len(half) + half + b"\r\n" if chunked else half)
    wait_for(lambda: any(p.stat().st_size > 0 for p in server.parts()), what="the .part file to fill")
    if close == "reset":
        reset(s)
    else:
        s.shutdown(socket.SHUT_WR)
    wait_for(lambda: not server.parts(), what="the .part file to be removed")
    s.close()
    assert name not in server.names()
    assert not (server.data / name).exists()
    assert server.get("/healthz").status == 200
    metrics = server.get("/metrics").body.decode()
    assert 'disgrafs_uploads_total{outcome="interrupted"}' in metrics


def test_size_limit(make_server):
    srv = make_server("--max-upload", "1M")
    limit = 1024 * 1024
    # announced too large: refused before the body is sent
    s = open_upload(srv, "big.bin", limit + 1)
    reply = s.recv(65536).decode()
    s.close()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"too_large"' in reply
    # chunked, so the size is only known on the way: refused when it passes the limit
    s = open_upload(srv, "sneaky-big.bin", None)
    chunk = os.urandom(256 * 1024)
    reply = b""
    try:
        for _ in range(8):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        reply = s.recv(65536)
    except ConnectionResetError:
        pass
    s.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply
    wait_for(lambda: not srv.parts(), what="the .part file to be removed")
    assert srv.names() == []
    # exactly at the limit is fine
    data = os.urandom(limit)
    assert srv.upload_ok("exact.bin", data)["sha256"] == sha(data)


def test_crash_mid_upload_then_restart(make_server):
    srv = make_server()
    kept = srv.wait_tagged(srv.upload_ok("kept.txt", b"penguin penguin colony ice")["id"])
    s = open_upload(srv, "torn.bin", 16 * 1024 * 1024)
    s.sendall(os.urandom(4 * 1024 * 1024))
    wait_for(lambda: any(p.stat().st_size > 0 for p in srv.parts()), what="the .part file to fill")
    srv.kill()  # SIGKILL: the server gets no chance to clean up
    s.close()
    assert srv.parts(), "the crash should have left the temporary file"
    srv.start()
    assert srv.parts() == []
    assert srv.names() == ["kept.txt"]
    assert not (srv.data / "torn.bin").exists()
    again = srv.file(kept["id"])
    assert again["tags"] == kept["tags"] and again["sha256"] == kept["sha256"]
    assert srv.get(f"/api/files/{kept['id']}/content").body == b"penguin penguin colony ice"


def test_restart_keeps_files_tags_and_the_generated_token(make_server, tmp_path):
    token_file = tmp_path / "secrets" / "disgrafs-token"
    srv = make_server(env={"DISGRAFS_TOKEN_FILE": str(token_file)}, token=None)
    assert "generated a write token" in srv.log()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    srv.token = token_file.read_text().strip()
    assert len(srv.token) >= 32
    assert not str(token_file).startswith(str(srv.data))

    bodies = {f"keep-{i}.txt": b"albatross albatross seabird %d" % i for i in range(5)}
    before = {}
    for name, body in bodies.items():
        f = srv.upload_ok(name, body)
        before[f["id"]] = srv.wait_tagged(f["id"])
    assert srv.stop() == 0

    srv.start()
    assert srv.log().count("generated a write token") == 1  # the same token, read back
    for file_id, f in before.items():
        after = srv.file(file_id)
        assert after == f
        assert srv.get(f"/api/files/{file_id}/content").body == bodies[f["name"]]
    assert srv.upload("after-restart.txt", b"x").status == 201
    assert srv.upload("rejected.txt", b"x", auth="old-or-wrong").status == 401


def test_restart_reconciles_changes_made_behind_its_back(make_server):
    srv = make_server()
    gone = srv.wait_tagged(srv.upload_ok("vanishes.txt", b"ocelot ocelot jungle")["id"])
    aside = srv.wait_tagged(srv.upload_ok("half-deleted.txt", b"axolotl axolotl lake")["id"])
    grows = srv.wait_tagged(srv.upload_ok("grows.txt", b"short")["id"])
    srv.stop()
    (srv.data / "vanishes.txt").unlink()  # removed on the file system directly
    (srv.data / "dropped-in.md").write_bytes(b"# Pangolin\n\npangolin pangolin scales")  # added directly
    with open(srv.data / "grows.txt", "ab") as fh:  # changed directly
        fh.write(b" and now much longer: ibex ibex ibex")
    # a deletion that crashed after moving the file aside
    os.rename(srv.data / "half-deleted.txt", srv.data / ".disgrafs" / "deleting" / aside["id"])
    srv.start()

    names = srv.names()
    assert "vanishes.txt" not in names and "half-deleted.txt" not in names
    assert srv.get(f"/api/files/{gone['id']}").status == 404
    assert not list((srv.data / ".disgrafs" / "deleting").iterdir())
    tags = {t["name"] for t in srv.get("/api/tags?limit=1000").json()["items"]}
    assert "ocelot" not in tags and "axolotl" not in tags  # no orphans

    dropped = srv.get("/api/search?q=dropped-in&by=name").json()["items"]
    assert len(dropped) == 1
    f = srv.wait_tagged(dropped[0]["id"])
    assert "pangolin" in tag_names(f, "keyword") and f["mime"] == "text/markdown"
    assert f["sha256"] == sha((srv.data / "dropped-in.md").read_bytes())

    g = srv.wait_tagged(grows["id"])
    assert g["size"] == (srv.data / "grows.txt").stat().st_size
    assert "ibex" in tag_names(g, "keyword")


def test_two_servers_cannot_share_one_data_dir(make_server):
    first = make_server()
    second = make_server(data=first.data, start=False)
    with pytest.raises(RuntimeError, match="another disgrafs server"):
        second.start(timeout=20)
    assert first.get("/healthz").status == 200


def test_sigterm_is_a_clean_stop(make_server):
    srv = make_server()
    srv.upload_ok("calm.txt", b"calm")
    assert srv.stop() == 0
    assert "disgrafs: stopping" in srv.log()
    assert srv.parts() == []


def test_missing_content_is_a_clear_404(make_server):
    srv = make_server()
    f = srv.upload_ok("lost.txt", b"soon gone")
    (srv.data / "lost.txt").unlink()  # behind the running server's back
    r = srv.get(f"/api/files/{f['id']}/content")
    assert r.status == 404 and r.json()["error"] == "content_missing"


def test_a_symlink_planted_in_the_data_dir_is_not_followed(make_server, tmp_path):
    srv = make_server()
    f = srv.upload_ok("innocent.txt", b"innocent")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the server's secrets")
    (srv.data / "innocent.txt").unlink()
    (srv.data / "innocent.txt").symlink_to(secret)
    r = srv.get(f"/api/files/{f['id']}/content")
    assert r.status == 404 and b"secrets" not in r.body
    srv.restart()  # and recovery does not index it
    assert "innocent.txt" not in srv.names()


def test_bad_configuration_is_reported(make_server):
    srv = make_server("--graph", "oracle", start=False)
    with pytest.raises(RuntimeError, match="graph must be 'ladybug' or 'neo4j'"):
        srv.start()
    srv = make_server("--graph", "neo4j", start=False)
    with pytest.raises(RuntimeError, match="needs a password"):
        srv.start()
    srv = make_server("--max-upload", "lots", start=False)
    with pytest.raises(RuntimeError, match="not a size"):
        srv.start()


def test_unreachable_neo4j_is_reported(make_server):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = make_server("--graph", "neo4j", "--neo4j-uri", f"bolt://127.0.0.1:{port}",
                      env={"DISGRAFS_NEO4J_PASSWORD": "x"}, start=False)
    with pytest.raises(RuntimeError, match="cannot use Neo4j at bolt://127.0.0.1"):
        srv.start()


def test_data_dir_without_write_permission_fails_clearly(make_server, tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere; a read-only bind is not available here: use a file as "directory"
        bogus = tmp_path / "not-a-dir"
        bogus.write_text("x")
        srv = make_server(data=bogus, start=False)
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        srv = make_server(data=ro / "data", start=False)
    with pytest.raises(RuntimeError, match="cannot start"):
        srv.start()
    shutil.rmtree(tmp_path / "config", ignore_errors=True)


def _fds(srv) -> int:
    return len(os.listdir(f"/proc/{srv.proc.pid}/fd"))


def _read_all(s: socket.socket, timeout: float = 15) -> bytes:
    """One response: until the server closes, or its Content-Length is in."""
    s.settimeout(timeout)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            length = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
            if sep and length and len(body) >= length[0]:
                break
    except ConnectionResetError:
        pass
    return out


def test_stalled_uploads_time_out_and_release_everything(make_server):
    """A client that stops sending mid-body is answered 408 after
    upload_idle_timeout; its .part file, the file descriptor and the socket are
    released, and one client cannot hold more than max_uploads_per_client."""
    srv = make_server("--upload-idle-timeout", "2", "--max-uploads-per-client", "4")
    srv.upload_ok("warm-up.txt", b"warm up")  # the first upload opens what later ones reuse
    baseline = _fds(srv)
    stalled = []
    for i in range(4):
        s = open_upload(srv, f"stalled-{i}.bin", 10 * 1024 * 1024)
        s.sendall(os.urandom(64 * 1024))  # then nothing more
        stalled.append(s)
    wait_for(lambda: len(srv.parts()) == 4, what="four .part files")
    assert _fds(srv) >= baseline + 6  # a socket and a .part per stalled upload (+-1 warm-up socket)
    # a fifth upload from the same client is refused at once, before its body
    r = srv.upload("one-too-many.txt", b"x")
    assert r.status == 429 and r.json()["error"] == "too_many_uploads", r
    assert r.headers["Retry-After"]
    # reads are not uploads: the client can still use the rest of the API
    assert srv.get("/api/files").status == 200

    started = time.monotonic()
    replies = [_read_all(s) for s in stalled]
    assert all(s.recv(1) == b"" for s in stalled), "the server closes a timed-out upload's connection"
    for s in stalled:
        s.close()
    assert time.monotonic() - started < 12
    for reply in replies:
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), reply[:300]
        assert json.loads(body)["error"] == "timeout"
    wait_for(lambda: not srv.parts(), what="the .part files to be removed")
    wait_for(lambda: _fds(srv) <= baseline + 1, what="the descriptors to be released")
    assert not any(n.startswith("stalled-") for n in srv.names())
    metrics = srv.get("/metrics").body.decode()
    assert 'disgrafs_uploads_total{outcome="timeout"} 4.0' in metrics
    # the slots are free again
    assert srv.upload("after-the-stall.txt", b"fine").status == 201


def test_a_slow_but_steady_upload_is_not_cut(make_server):
    srv = make_server("--upload-idle-timeout", "1")
    s = open_upload(srv, "steady.bin", 6 * 1000)
    for _ in range(6):  # 3 s in all, never 1 s without a byte
        s.sendall(b"x" * 1000)
        time.sleep(0.5)
    reply = _read_all(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 201"), reply[:300]
    assert (srv.data / "steady.bin").stat().st_size == 6000


def test_idle_keepalive_connections_are_closed(make_server):
    """aiohttp's default keeps an idle connection for an hour; ours for 75 s."""
    from disgrafs.server import KEEPALIVE_TIMEOUT

    assert KEEPALIVE_TIMEOUT <= 120
