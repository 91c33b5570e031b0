"""A real `disgrafs serve` process per test module (or per test where the test
stops, kills or reconfigures it): 127.0.0.1, a free port, a temporary data dir."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

# a write token made for this test run (never a literal in git)
TOKEN = secrets.token_urlsafe(24)
SERVING = re.compile(r"on http://127\.0\.0\.1:(\d+)/")
sys.path.insert(0, str(Path(__file__).parent))  # for `import samples`


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class Server:
    """One server process; start/stop/kill/restart keep the same data dir."""

    def __init__(self, data: Path, *args: str, env: dict | None = None, token: str | None = TOKEN):
        self.data, self.args, self.token = Path(data), list(args), token
        self.env = dict(os.environ)
        self.env.pop("DISGRAFS_TOKEN", None)
        self.env.update({"XDG_CONFIG_HOME": str(self.data.parent / "config"), "PYTHONUNBUFFERED": "1"})
        if token is not None:
            self.env["DISGRAFS_TOKEN"] = token
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.log_path = self.data.parent / f"{self.data.name}.server.log"
        self.starts = 0

    def start(self, timeout: float = 30) -> "Server":
        self.starts += 1
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        cmd = [sys.executable, "-m", "disgrafs", "serve", "--data", str(self.data),
               "--host", "127.0.0.1", "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            m = SERVING.search(text)
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not start in time:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server ignored SIGTERM") from None
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, no chance to clean up."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    # -- HTTP ------------------------------------------------------------------
    def conn(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                auth: bool | str = False, timeout: float = 30) -> Response:
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = "Bearer " + (auth if isinstance(auth, str) else self.token)
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def upload(self, name: str, data: bytes, conflict: str | None = None, auth=True,
               headers: dict | None = None) -> Response:
        q = {"name": name}
        if conflict:
            q["conflict"] = conflict
        return self.request("POST", "/api/files?" + urllib.parse.urlencode(q), body=data,
                            headers=headers, auth=auth)

    def upload_ok(self, name: str, data: bytes, **kw) -> dict:
        r = self.upload(name, data, **kw)
        assert r.status == 201, r
        return r.json()

    def file(self, file_id: str) -> dict:
        r = self.get(f"/api/files/{file_id}")
        assert r.status == 200, r
        return r.json()

    def wait_tagged(self, file_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.file(file_id)
            if f["tag_status"] in ("done", "failed"):
                return f
            time.sleep(0.05)
        raise AssertionError(f"file {file_id} not tagged within {timeout}s: {f}")

    def names(self) -> list[str]:
        r = self.get("/api/files?limit=1000&sort=name&order=asc")
        assert r.status == 200, r
        return [f["name"] for f in r.json()["items"]]

    def parts(self) -> list[Path]:
        """Unfinished uploads on disk."""
        tmp = self.data / ".disgrafs" / "tmp"
        return sorted(tmp.iterdir()) if tmp.exists() else []


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tag_names(f: dict, kind: str | None = None) -> set[str]:
    return {t["name"] for t in f["tags"] if kind is None or t["kind"] == kind}


def neo4j_server_args() -> tuple[list[str], dict]:
    """DISGRAFS_TEST_SERVER_GRAPH=neo4j runs the shared-server tests on the Neo4j
    given by DISGRAFS_TEST_NEO4J_* (emptied first) instead of the embedded graph."""
    from disgrafs.graph.neo4j_backend import Neo4jGraph

    uri = os.environ["DISGRAFS_TEST_NEO4J_URI"]
    user = os.environ.get("DISGRAFS_TEST_NEO4J_USER", "neo4j")
    password = os.environ.get("DISGRAFS_TEST_NEO4J_PASSWORD", "")
    database = os.environ.get("DISGRAFS_TEST_NEO4J_DATABASE", "neo4j")
    store = Neo4jGraph(uri, user, password, database)
    store.open()
    store.clear()
    store.close()
    return (["--graph", "neo4j", "--neo4j-uri", uri, "--neo4j-user", user, "--neo4j-database", database],
            {"DISGRAFS_NEO4J_PASSWORD": password})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server shared by a module's tests (they use distinct file names)."""
    args, env = neo4j_server_args() if os.environ.get("DISGRAFS_TEST_SERVER_GRAPH") == "neo4j" else ([], {})
    srv = Server(tmp_path_factory.mktemp("srv") / "data", *args, env=env).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path):
    """Servers owned by one test: make_server(*flags, env=..., token=...)."""
    made = []

    def make(*args, env=None, token=TOKEN, data=None, start=True):
        srv = Server(data or tmp_path / f"data{len(made)}", *args, env=env, token=token)
        made.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in made:
        if srv.proc is not None:
            srv.kill()
