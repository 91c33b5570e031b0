"""The HTTP API against a real server process on the embedded default."""

from __future__ import annotations

import json
import os
import socket
import urllib.parse

import pytest

from conftest import sha, tag_names

TEXT_A = b"""Quantum tunnelling in semiconductors. Tunnelling electrons cross the barrier.
The barrier height and tunnelling probability decide the current. Semiconductors, electrons."""
TEXT_B = b"""Electrons in semiconductors: band gaps, electrons and holes. Semiconductors conduct
when electrons jump the gap. Doping semiconductors adds electrons."""


def test_healthz(server):
    r = server.get("/healthz")
    assert r.status == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["backend"] == os.environ.get("DISGRAFS_TEST_SERVER_GRAPH", "ladybug")
    assert body["checks"] == {"graph": "ok", "storage": "ok"}
    assert body["tagging"]["executor"] == "process"


def test_openapi_documents_exactly_the_routes(server):
    r = server.get("/openapi.json")
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, m.upper()) for path, ops in doc["paths"].items() for m in ops}

    from disgrafs.config import Config
    from disgrafs.server import build_app

    app = build_app(Config(data=server.data, token="x"))
    routed = {(route.resource.canonical, route.method) for route in app.router.routes()
              if route.method != "HEAD" and not route.resource.canonical.startswith("/static")}
    assert documented == routed
    op_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(op_ids) == len(set(op_ids))
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["responses"], op["operationId"]
            for code in op["responses"]:
                assert code.isdigit()


def test_raw_upload_and_download_roundtrip(server):
    data = os.urandom(3 * 1024 * 1024 + 17)
    up = server.upload_ok("blob.bin", data)
    assert up["size"] == len(data) and up["sha256"] == sha(data)
    assert up["tag_status"] == "pending" and up["name"] == "blob.bin"
    assert (server.data / "blob.bin").read_bytes() == data  # the file system holds it by name

    r = server.get(f"/api/files/{up['id']}/content")
    assert r.status == 200 and r.body == data
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["X-Content-SHA256"] == sha(data)
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == 'attachment; filename="blob.bin"; filename*=UTF-8\'\'blob.bin'

    head = server.request("HEAD", f"/api/files/{up['id']}/content")
    assert head.status == 200 and head.body == b"" and head.headers["Content-Length"] == str(len(data))


def test_multipart_upload_like_a_browser(server):
    boundary = "----disgrafs-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"résumé.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode() + TEXT_A + f"\r\n--{boundary}--\r\n".encode()
    r = server.request("POST", "/api/files", body=body, auth=True,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 201, r
    f = r.json()
    assert f["name"] == "résumé.txt" and f["size"] == len(TEXT_A) and f["sha256"] == sha(TEXT_A)
    assert f["mime"] == "text/plain"
    d = server.get(f"/api/files/{f['id']}/content")
    assert d.body == TEXT_A
    # the non-ASCII name survives in RFC 5987 form, with an ASCII fallback
    assert d.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")


def test_multipart_with_two_files_is_refused_and_stores_nothing(server):
    boundary = "b0undary"
    part = lambda n: (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{n}\"\r\n\r\n"
                      "x\r\n").encode()
    body = part("two-a.txt") + part("two-b.txt") + f"--{boundary}--\r\n".encode()
    r = server.request("POST", "/api/files", body=body, auth=True,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 400 and "one file per request" in r.json()["message"]
    assert not {"two-a.txt", "two-b.txt"} & set(server.names())
    assert not server.parts()


@pytest.mark.parametrize("ctype,body", [
    ("multipart/form-data", b"garbage"),
    ("multipart/form-data; boundary=xyz", b"no boundary in here"),
    ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="file"; '
                                          b'filename="cut.txt"\r\n\r\nthe body stops here'),
    ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
])
def test_malformed_multipart_is_a_400(server, ctype, body):
    r = server.request("POST", "/api/files", body=body, auth=True, headers={"Content-Type": ctype})
    assert r.status == 400, r
    assert r.json()["error"] == "bad_request"
    assert "cut.txt" not in server.names() and not server.parts()


def test_writes_need_the_token(server):
    for auth in (False, "wrong-token"):
        r = server.upload("sneaky.txt", b"x", auth=auth)
        assert r.status == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "sneaky.txt" not in server.names()
    f = server.upload_ok("guarded.txt", b"keep me")
    assert server.request("DELETE", f"/api/files/{f['id']}").status == 401
    assert server.request("DELETE", f"/api/files/{f['id']}", auth="nope").status == 401
    assert server.request("POST", f"/api/files/{f['id']}/retag").status == 401
    assert server.get(f"/api/files/{f['id']}").status == 200  # reads are open


def test_expect_100_continue_refuses_before_the_body(server):
    """A client announcing 1 GiB without a token is answered 401 at once."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /api/files?name=huge.bin HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n")
        reply = s.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 401"), reply
    assert '"unauthorized"' in reply
    # with the token the server says 100 Continue and takes the body
    data = b"continued body"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /api/files?name=continued.txt HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + server.token.encode() +
                  b"\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(data))
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(data)
        assert s.recv(65536).startswith(b"HTTP/1.1 201")


def test_existing_name_is_never_overwritten(server):
    first = server.upload_ok("report.txt", b"first version")
    r = server.upload("report.txt", b"second version")
    assert r.status == 409 and r.json()["error"] == "name_taken"
    assert (server.data / "report.txt").read_bytes() == b"first version"
    renamed = server.upload_ok("report.txt", b"second version", conflict="rename")
    assert renamed["name"] == "report (2).txt"
    third = server.upload_ok("report.txt", b"third", conflict="rename")
    assert third["name"] == "report (3).txt"
    assert server.file(first["id"])["sha256"] == sha(b"first version")
    assert server.upload("report.txt", b"x", conflict="replace").status == 400


def test_range_requests(server):
    data = bytes(range(256)) * 40
    f = server.upload_ok("ranges.bin", data)
    url = f"/api/files/{f['id']}/content"
    cases = {"bytes=0-9": (0, 10), "bytes=100-": (100, len(data)), "bytes=-16": (len(data) - 16, len(data)),
             "bytes=10000-20000": (10000, len(data))}
    for spec, (start, end) in cases.items():
        r = server.get(url, headers={"Range": spec})
        assert r.status == 206, spec
        assert r.body == data[start:end], spec
        assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(data)}", spec
    r = server.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"
    # If-Range with a stale date: the whole file
    r = server.get(url, headers={"Range": "bytes=0-9", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert r.status == 200 and r.body == data
    # conditional GET
    etag = server.get(url).headers["ETag"]
    assert server.get(url, headers={"If-None-Match": etag}).status == 304


def test_gzip_sibling_is_not_served_instead(server):
    """aiohttp's FileResponse would send "x.gz" for "x" to gzip-accepting clients."""
    plain = server.upload_ok("page.txt", b"the plain file")
    server.upload_ok("page.txt.gz", b"an unrelated file that happens to end in .gz")
    r = server.get(f"/api/files/{plain['id']}/content", headers={"Accept-Encoding": "gzip, br"})
    assert r.status == 200 and r.body == b"the plain file"
    assert "Content-Encoding" not in r.headers


def test_downloads_cannot_run_in_the_page_origin(server):
    html = server.upload_ok("evil.html", b"<script>fetch('/api/files')</script>")
    r = server.get(f"/api/files/{html['id']}/content")
    assert r.headers["Content-Type"] == "text/html"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["Content-Security-Policy"].startswith("sandbox")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    inline = server.get(f"/api/files/{html['id']}/content?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert inline.headers["Content-Security-Policy"].startswith("sandbox")


def test_tagging_runs_off_the_request_path(server):
    f = server.upload_ok("tunnelling.txt", TEXT_A)
    assert f["tag_status"] == "pending" and f["tags"] == []
    f = server.wait_tagged(f["id"])
    assert f["tag_status"] == "done", f
    assert {"tunnelling", "semiconductors", "electrons", "barrier"} <= tag_names(f, "keyword")
    assert tag_names(f, "type") == {"text"} and tag_names(f, "ext") == {"txt"}
    assert tag_names(f, "size") == {"tiny"}


def test_retag_on_demand(server):
    f = server.wait_tagged(server.upload_ok("retag-me.md", b"# Kernels\n\nkernel kernel modules")["id"])
    first = f["tagged_at"]
    r = server.request("POST", f"/api/files/{f['id']}/retag", auth=True)
    assert r.status == 202 and r.json()["tag_status"] == "pending"
    again = server.wait_tagged(f["id"])
    assert again["tagged_at"] > first and again["tags"] == f["tags"]


def test_search_by_tag_name_keyword_and_any(server):
    a = server.wait_tagged(server.upload_ok("search-a.txt", TEXT_A)["id"])
    b = server.wait_tagged(server.upload_ok("search-b.txt", TEXT_B)["id"])

    def names(q, by, **extra):
        r = server.get("/api/search?" + urllib.parse.urlencode(dict(q=q, by=by, limit=100, **extra)))
        assert r.status == 200, r
        return [i["name"] for i in r.json()["items"]], r.json()

    found, body = names("tunnelling", "keyword")
    assert "search-a.txt" in found and "search-b.txt" not in found
    assert body["items"][0]["tags"], "search results carry their tags"
    found, _ = names("semiconductors electrons", "keyword")  # all terms must match
    assert {"search-a.txt", "search-b.txt"} <= set(found)
    found, _ = names("semiconductors, tunnelling", "tag")
    assert "search-a.txt" in found and "search-b.txt" not in found
    found, _ = names("SEARCH-B", "name")
    assert found == ["search-b.txt"]
    found, body = names("tunnelling search-b", "any")
    assert {"search-a.txt", "search-b.txt"} <= set(found)
    found, _ = names("txt", "tag")  # extension tags are tags too
    assert {"search-a.txt", "search-b.txt"} <= set(found)
    assert names("no-such-word-anywhere", "any")[0] == []
    assert a["id"] != b["id"]


def test_search_folds_case_and_unicode_forms(server):
    import unicodedata

    f = server.wait_tagged(server.upload_ok("menu.txt", "Crème brûlée, crème brûlée, café".encode())["id"])
    assert "crème" in tag_names(f, "keyword")
    for q in ("CRÈME", unicodedata.normalize("NFD", "crème")):
        r = server.get("/api/search?" + urllib.parse.urlencode({"q": q, "by": "keyword"}))
        assert [i["name"] for i in r.json()["items"]] == ["menu.txt"], q


def test_related_files_share_tags_ranked(server):
    base = server.upload_ok("rel-base.txt", b"volcano magma eruption lava volcano magma eruption lava")
    close = server.upload_ok("rel-close.txt", b"volcano magma eruption lava volcano magma eruption lava ash")
    far = server.upload_ok("rel-far.txt", b"volcano volcano tourism tourism beaches beaches")
    for f in (base, close, far):
        server.wait_tagged(f["id"])
    r = server.get(f"/api/files/{base['id']}/related?limit=50")
    assert r.status == 200
    items = r.json()["items"]
    order = [i["name"] for i in items]
    assert order.index("rel-close.txt") < order.index("rel-far.txt")
    close_item = items[order.index("rel-close.txt")]
    assert {"volcano", "magma", "eruption", "lava"} <= set(close_item["shared"])
    assert items == sorted(items, key=lambda i: -i["score"])
    assert server.get("/api/files/nope/related").status == 404


def test_tags_with_counts(server):
    for i in range(3):
        server.wait_tagged(server.upload_ok(f"counted-{i}.txt", b"zeppelin zeppelin airship")["id"])
    r = server.get("/api/tags?kind=keyword&prefix=zep")
    assert r.status == 200
    items = r.json()["items"]
    assert items == [{"name": "zeppelin", "kind": "keyword", "count": 3}]
    all_tags = server.get("/api/tags?limit=1000").json()
    counts = [t["count"] for t in all_tags["items"]]
    assert counts == sorted(counts, reverse=True) and all_tags["total"] >= len(counts)


def test_suggestions(server):
    server.wait_tagged(server.upload_ok("xylophone-notes.txt", b"xylophone xylophone mallets")["id"])
    r = server.get("/api/suggest?q=XYLO")
    items = r.json()["items"]
    assert {"type": "tag", "name": "xylophone", "kind": "keyword", "count": 1} in items
    assert any(i["type"] == "file" and i["name"] == "xylophone-notes.txt" for i in items)
    assert server.get("/api/suggest?q=").json()["items"] == []


def test_list_paging(server):
    for i in range(7):
        server.upload_ok(f"page-{i:02d}.txt", b"p%d" % i)
    first = server.get("/api/files?limit=5&sort=name&order=asc").json()
    total = first["total"]
    assert total >= 7 and len(first["items"]) == 5
    seen = []
    for offset in range(0, total, 5):
        page = server.get(f"/api/files?offset={offset}&limit=5&sort=name&order=asc").json()
        assert page["total"] == total
        seen += [f["name"] for f in page["items"]]
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen)
    newest = server.get("/api/files?limit=3").json()["items"]  # default: newest first
    assert [f["created"] for f in newest] == sorted((f["created"] for f in newest), reverse=True)
    by_size = server.get("/api/files?limit=1000&sort=size&order=desc").json()["items"]
    assert [f["size"] for f in by_size] == sorted((f["size"] for f in by_size), reverse=True)


def test_delete_removes_file_node_and_orphan_tags(server):
    solo = server.wait_tagged(server.upload_ok("solo.txt", b"quokka quokka marsupial marsupial")["id"])
    other = server.wait_tagged(server.upload_ok("other.txt", b"marsupial marsupial kangaroo")["id"])
    assert "quokka" in tag_names(solo)
    tags = lambda: {(t["name"], t["count"]) for t in server.get("/api/tags?kind=keyword&limit=1000").json()["items"]}
    assert {("quokka", 1), ("marsupial", 2)} <= tags()

    r = server.request("DELETE", f"/api/files/{solo['id']}", auth=True)
    assert r.status == 204 and r.body == b""
    assert not (server.data / "solo.txt").exists()
    assert server.get(f"/api/files/{solo['id']}").status == 404
    assert server.get(f"/api/files/{solo['id']}/content").status == 404
    after = tags()
    assert not any(name == "quokka" for name, _ in after), "orphan tag left behind"
    assert ("marsupial", 1) in after
    assert "other.txt" in server.names()
    assert server.request("DELETE", f"/api/files/{solo['id']}", auth=True).status == 404
    assert not list((server.data / ".disgrafs" / "deleting").iterdir())
    # the name is free again
    server.upload_ok("solo.txt", b"new content")
    assert other["id"]


def test_graph_view(server):
    f = server.wait_tagged(server.upload_ok("graphview.txt", b"narwhal narwhal tusk")["id"])
    g = server.get("/api/graph?limit=1000").json()
    ids = {n["id"] for n in g["nodes"]}
    assert "f:" + f["id"] in ids and "t:keyword:narwhal" in ids
    assert {"source": "f:" + f["id"], "target": "t:keyword:narwhal"} in g["edges"]
    assert all(e["source"] in ids and e["target"] in ids for e in g["edges"])


def test_metrics(server):
    before = server.get("/metrics").body.decode()
    server.upload_ok("metrics.txt", b"12345")
    text = server.get("/metrics").body.decode()
    assert server.get("/metrics").headers["Content-Type"].startswith("text/plain")

    def value(body, line_start):
        for line in body.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    key = 'disgrafs_uploads_total{outcome="stored"}'
    assert value(text, key) == value(before, key) + 1
    assert value(text, "disgrafs_upload_bytes_total") >= 5
    assert 'disgrafs_http_requests_total{method="POST",route="/api/files",status="201"}' in text
    assert "process_resident_memory_bytes" in text


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/no/such/route", 404, "not_found"),
    ("PUT", "/api/files", 405, "method_not_allowed"),
    ("GET", "/api/files/0123/content", 404, "not_found"),
    ("GET", "/api/files?limit=0", 400, "bad_request"),
    ("GET", "/api/files?limit=abc", 400, "bad_request"),
    ("GET", "/api/files?sort=sha256", 400, "bad_request"),
    ("GET", "/api/search?q=x&by=regex", 400, "bad_request"),
    ("GET", "/api/search", 400, "bad_request"),
    ("POST", "/api/files", 400, "bad_request"),  # raw body without ?name=
    ("POST", "/api/files?name=x&conflict=maybe", 400, "bad_request"),
])
def test_errors_are_json(server, method, path, status, code):
    r = server.request(method, path, body=b"data" if method == "POST" else None, auth=True)
    assert r.status == status, r
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == status and body["error"] == code and body["message"]


def test_the_page_and_its_assets_are_served(server):
    page = server.get("/")
    assert page.status == 200 and b"<title>DisGraFS</title>" in page.body
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in (b"/static/app.js", b"/static/style.css", b"/static/vendor/cytoscape.min.js"):
        assert asset in page.body
        r = server.get(asset.decode())
        assert r.status == 200 and len(r.body) > 1000, asset


def test_json_bodies_are_utf8(server):
    f = server.upload_ok("日本語ファイル.txt", "漢字のテキスト".encode())
    body = server.get(f"/api/files/{f['id']}").body
    assert json.loads(body)["name"] == "日本語ファイル.txt"
