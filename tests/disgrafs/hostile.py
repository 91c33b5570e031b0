"""A corpus of hostile HTTP requests, sent over raw sockets by test_fuzz.py.

Each case is (id, raw request bytes). They are built here rather than stored
as binary files so that a reader sees what each one does; the list is fixed
(no randomness), so a failure names a case that can be replayed by hand::

    python -c "import sys; sys.path.insert(0, 'tests/disgrafs'); import hostile; \\
               print(dict(hostile.corpus('TOKEN'))['auth-non-utf8'])"

Families: request line and headers, authorization, framing (Content-Length,
chunked), content encodings, names (query and multipart), multipart
structure, ranges and conditional headers, query parameters, paths.
``ESCAPE`` is a path outside the data directory that several names aim at;
the test checks that it never appears.
"""

from __future__ import annotations

import gzip
import urllib.parse
import zlib

ESCAPE = "/tmp/disgrafs-fuzz-escape"
PLACEHOLDER_ID = "FILEID"  # replaced by the id of a stored file when sent


def _req(method: str, target: bytes | str, headers: list[bytes | str] = (), body: bytes = b"",
         version: bytes = b"HTTP/1.1", length: bool = True, close: bool = True) -> bytes:
    if isinstance(target, str):
        target = target.encode()
    lines = [method.encode() + b" " + target + b" " + version, b"Host: fuzz"]
    for h in headers:
        lines.append(h.encode() if isinstance(h, str) else h)
    if close:
        lines.append(b"Connection: close")
    if length and body is not None and not any(
            (h if isinstance(h, bytes) else h.encode()).lower().startswith((b"content-length", b"transfer-encoding"))
            for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _upload(target: bytes | str, token: str, headers=(), body: bytes = b"fuzz", **kw) -> bytes:
    return _req("POST", target, [f"Authorization: Bearer {token}", *headers], body, **kw)


def _multipart(token: str, disposition: bytes, body: bytes = b"hello", boundary: bytes = b"fzb",
               extra: bytes = b"", ctype: bytes | None = None) -> bytes:
    payload = (b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n" + extra + b"\r\n"
               + body + b"\r\n--" + boundary + b"--\r\n")
    ctype = ctype or b"multipart/form-data; boundary=" + boundary
    return _upload("/api/files", token, [b"Content-Type: " + ctype], payload)


def _name(n: str) -> str:
    return "/api/files?name=" + urllib.parse.quote(n, safe="")


HOSTILE_NAMES = [
    "../../../../../tmp/disgrafs-fuzz-escape", "..%2f..%2ftmp%2fdisgrafs-fuzz-escape",
    "/tmp/disgrafs-fuzz-escape", "....//....//tmp/disgrafs-fuzz-escape", "..\\..\\..\\tmp\\x",
    "ｅｖｉｌ．ｔｘｔ", "．．／．．／tmp／disgrafs-fuzz-escape", "\u2025/\u2025/etc/passwd",
    "con", "CON.txt", "nul.tar.gz", "com1", "LPT9.log", "aux .txt", "prn.",
    "' OR 1=1 //.txt", "x' OR '1'='1", "a\"); MATCH (n) DETACH DELETE n; //", "$(reboot).txt", "`id`.txt",
    "%00.txt", "a\x00b.txt", "\x00", "line\r\nX-Injected: yes.txt", "tab\tname.txt",
    "rtl\u202egnp.exe", "zero\u200bwidth", "\ufeffbom.txt", "\ud7ff-edge.txt", "emoji-🚀-𝔘.txt",
    "x" * 255, "x" * 256, "é" * 200, "a" * 5000, ".", "..", "...", ".hidden", " .hidden", "   ",
    "\u3000\u3000", "name.", "name ", "%ff%fe", "%c0%ae%c0%ae/etc", "%25ff.txt", "~root", "-rf",
    "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z.txt", "\\\\server\\share\\f.txt",
    "C:..\\..\\windows\\system32\\drivers\\etc\\hosts",
]


def corpus(token: str) -> list[tuple[str, bytes]]:
    t = token
    cases: list[tuple[str, bytes]] = []
    add = lambda cid, raw: cases.append((cid, raw))  # noqa: E731

    # -- request line and headers -------------------------------------------
    add("url-over-8190", _req("GET", "/" + "a" * 9000))
    add("url-over-8190-query", _req("GET", "/api/search?q=" + "a" * 9000))
    add("url-16k", _req("GET", "/api/files/" + "b" * 16000))
    add("header-over-8190", _req("GET", "/healthz", ["X-Big: " + "a" * 9000]))
    add("header-name-over-8190", _req("GET", "/healthz", ["X" * 9000 + ": 1"]))
    add("too-many-headers", _req("GET", "/healthz", [f"X-H{i}: {i}" for i in range(300)]))
    add("header-without-colon", _req("GET", "/healthz", ["NoColonHere"]))
    add("header-space-before-colon", _req("GET", "/healthz", ["Host : evil"]))
    add("header-nul", _req("GET", "/healthz", [b"X-Nul: a\x00b"]))
    add("header-obs-fold", _req("GET", "/healthz", [b"X-Fold: a", b" continued"]))
    add("header-non-utf8", _req("GET", "/api/files", [b"X-Bytes: \xff\xfe\xc3\x28"]))
    add("header-utf8", _req("GET", "/api/files", ["X-Text: 漢字".encode()]))
    add("bare-lf", b"GET /healthz HTTP/1.1\nHost: fuzz\nConnection: close\n\n")
    add("no-host", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    add("two-hosts", _req("GET", "/healthz", ["Host: other"]))
    add("http-0.9", b"GET /\r\n\r\n")
    add("http-2.0-line", _req("GET", "/healthz", version=b"HTTP/2.0"))
    add("http-9.9", _req("GET", "/healthz", version=b"HTTP/9.9"))
    add("version-garbage", _req("GET", "/healthz", version=b"HTTX/1.1"))
    add("method-unknown", _req("FROB", "/api/files"))
    add("method-lowercase", _req("get", "/healthz"))
    add("method-long", _req("G" * 5000, "/healthz"))
    add("method-binary", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64)
    add("connect", _req("CONNECT", "127.0.0.1:22"))
    add("absolute-form", _req("GET", "http://evil.example/api/files"))
    add("asterisk-form", _req("OPTIONS", "*"))
    add("trace", _req("TRACE", "/"))
    add("upgrade-websocket", _req("GET", "/", ["Upgrade: websocket", "Connection: Upgrade",
                                                "Sec-WebSocket-Key: x", "Sec-WebSocket-Version: 13"], close=False))
    add("upgrade-h2c", _req("GET", "/", ["Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQAAP__"]))
    add("spaces-in-target", b"GET /api files HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n")
    add("empty-request-line", b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n")

    # -- authorization ---------------------------------------------------------
    add("auth-non-utf8", _req("POST", _name("auth.txt"), [b"Authorization: Bearer " + t.encode() + b"\xff"], b"x"))
    add("auth-truncated-utf8", _req("POST", _name("auth2.txt"), [b"Authorization: Bearer \xc3" + t.encode()], b"x"))
    add("auth-only-ff", _req("POST", _name("auth3.txt"), [b"Authorization: Bearer \xff\xfe"], b"x"))
    add("auth-latin1", _req("POST", _name("auth4.txt"), [b"Authorization: Bearer caf\xe9"], b"x"))
    add("auth-utf8", _req("POST", _name("auth5.txt"), ["Authorization: Bearer 令牌".encode()], b"x"))
    add("auth-scheme-only", _req("POST", _name("auth6.txt"), ["Authorization: Bearer"], b"x"))
    add("auth-basic", _req("POST", _name("auth7.txt"), ["Authorization: Basic dXNlcjpwYXNz"], b"x"))
    add("auth-huge", _req("POST", _name("auth8.txt"), ["Authorization: Bearer " + "t" * 8000], b"x"))
    add("auth-twice", _req("POST", _name("auth9.txt"), [f"Authorization: Bearer {t}", "Authorization: Bearer x"], b"x"))
    add("auth-nul", _req("POST", _name("auth10.txt"), [b"Authorization: Bearer \x00" + t.encode()], b"x"))
    add("auth-delete-wrong", _req("DELETE", "/api/files/" + PLACEHOLDER_ID, ["Authorization: Bearer \udcff".encode(
        "utf-8", "surrogateescape")]))
    add("auth-retag-bytes", _req("POST", f"/api/files/{PLACEHOLDER_ID}/retag", [b"Authorization: Bearer \x80\x81"]))

    # -- framing ------------------------------------------------------------------
    add("content-length-abc", _upload(_name("cl.txt"), t, ["Content-Length: abc"], b"x"))
    add("content-length-negative", _upload(_name("cl2.txt"), t, ["Content-Length: -1"], b"x"))
    add("content-length-huge", _upload(_name("cl3.txt"), t, ["Content-Length: 99999999999999999999999"], b"x"))
    add("content-length-two-values", _upload(_name("cl4.txt"), t, ["Content-Length: 1, 2"], b"x"))
    add("content-length-twice-differ", _upload(_name("cl5.txt"), t, ["Content-Length: 1", "Content-Length: 2"], b"xy"))
    add("content-length-plus", _upload(_name("cl6.txt"), t, ["Content-Length: +1"], b"x"))
    add("content-length-hex", _upload(_name("cl7.txt"), t, ["Content-Length: 0x10"], b"x"))
    add("content-length-over-limit", _upload(_name("cl8.txt"), t, ["Content-Length: %d" % (64 * 1024**3)], b""))
    add("cl-and-chunked", _upload(_name("smuggle.txt"), t, ["Content-Length: 4", "Transfer-Encoding: chunked"],
                                  b"0\r\n\r\n"))
    add("chunked-bad-size", _upload(_name("ch1.txt"), t, ["Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n"))
    add("chunked-negative", _upload(_name("ch2.txt"), t, ["Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"))
    add("chunked-huge-size", _upload(_name("ch3.txt"), t, ["Transfer-Encoding: chunked"],
                                     b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"))
    add("chunked-extension", _upload(_name("ch4.txt"), t, ["Transfer-Encoding: chunked"],
                                     b"5;name=\"v\"\r\nhello\r\n0\r\n\r\n"))
    add("chunked-trailer", _upload(_name("ch5.txt"), t, ["Transfer-Encoding: chunked"],
                                   b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"))
    add("chunked-missing-crlf", _upload(_name("ch6.txt"), t, ["Transfer-Encoding: chunked"], b"5\r\nhelloXX0\r\n\r\n"))
    add("te-gzip-only", _upload(_name("te1.txt"), t, ["Transfer-Encoding: gzip"], b"x"))
    add("te-chunked-twice", _upload(_name("te2.txt"), t, ["Transfer-Encoding: chunked, chunked"], b"0\r\n\r\n"))
    add("te-identity", _upload(_name("te3.txt"), t, ["Transfer-Encoding: identity"], b"x"))

    # -- content encodings ----------------------------------------------------------
    add("gzip-junk", _upload(_name("gz1.txt"), t, ["Content-Encoding: gzip"], b"not gzip at all"))
    add("deflate-junk", _upload(_name("gz2.txt"), t, ["Content-Encoding: deflate"], b"\x00\x01\x02junk"))
    add("br-junk", _upload(_name("gz3.txt"), t, ["Content-Encoding: br"], b"\xff\xff\xff"))
    add("zstd-junk", _upload(_name("gz4.txt"), t, ["Content-Encoding: zstd"], b"\xff\xff\xff"))
    add("encoding-unknown", _upload(_name("gz5.txt"), t, ["Content-Encoding: xz"], b"x"))
    add("encoding-stacked", _upload(_name("gz6.txt"), t, ["Content-Encoding: gzip, gzip"], gzip.compress(b"x")))
    add("gzip-bomb", _upload(_name("bomb.txt"), t, ["Content-Encoding: gzip"], gzip.compress(b"\0" * (8 * 1024**2))))
    add("gzip-truncated", _upload(_name("gz7.txt"), t, ["Content-Encoding: gzip"], gzip.compress(b"hello" * 100)[:20]))
    add("gzip-valid", _upload(_name("fuzz-gzip-valid.txt"), t, ["Content-Encoding: gzip"], gzip.compress(b"valid")))
    add("deflate-valid", _upload(_name("fuzz-deflate-valid.txt"), t, ["Content-Encoding: deflate"],
                                 zlib.compress(b"valid")))
    add("expect-continue-bad-token", _req("POST", _name("exp.txt"), ["Authorization: Bearer nope",
                                                                      "Expect: 100-continue"], b"x"))
    add("expect-unknown", _upload(_name("exp2.txt"), t, ["Expect: 999-frobnicate"], b"x"))

    # -- names in the query ---------------------------------------------------------
    for i, n in enumerate(HOSTILE_NAMES):
        add(f"name-{i:02d}", _upload(_name(n), t, body=b"name fuzz %d" % i))
    add("name-raw-percent-ff", _upload("/api/files?name=%ff%fe%fd.txt", t))
    add("name-raw-bytes-in-query", _upload(b"/api/files?name=\xff\xfe.txt", t))
    add("name-twice", _upload("/api/files?name=a.txt&name=../b.txt", t))
    add("name-empty", _upload("/api/files?name=", t))
    add("name-conflict-bogus", _upload("/api/files?name=c.txt&conflict=%00", t))

    # -- multipart ------------------------------------------------------------------------
    add("mp-filename-10000", _multipart(t, b'form-data; name="file"; filename="' + b"n" * 10000 + b'"'))
    add("mp-filename-8000", _multipart(t, b'form-data; name="file"; filename="' + b"n" * 8000 + b'"'))
    add("mp-filename-traversal", _multipart(t, b'form-data; name="file"; filename="../../../tmp/disgrafs-fuzz-escape"'))
    add("mp-filename-star-bad", _multipart(t, b"form-data; name=\"file\"; filename*=UTF-8''%ff%fe"))
    add("mp-filename-star-charset", _multipart(t, b"form-data; name=\"file\"; filename*=x-unknown''abc"))
    add("mp-filename-empty", _multipart(t, b'form-data; name="file"; filename=""'))
    add("mp-filename-quotes", _multipart(t, b'form-data; name="file"; filename="a"b"c.txt"'))
    add("mp-filename-non-utf8", _multipart(t, b'form-data; name="file"; filename="\xff\xfe.txt"'))
    add("mp-filename-con", _multipart(t, b'form-data; name="file"; filename="con.txt"'))
    add("mp-no-disposition", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=b"],
                                     b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"))
    add("mp-no-boundary", _upload("/api/files", t, ["Content-Type: multipart/form-data"], b"--x\r\n\r\n"))
    add("mp-boundary-long", _multipart(t, b'form-data; name="file"; filename="lb.txt"', boundary=b"b" * 200))
    add("mp-boundary-quoted-empty", _upload("/api/files", t, ['Content-Type: multipart/form-data; boundary=""'], b"--\r\n"))
    add("mp-unterminated", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=u"],
                                   b'--u\r\nContent-Disposition: form-data; name="file"; filename="u.txt"\r\n\r\nno end'))
    add("mp-no-crlf-after-headers", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=u"],
                                            b'--u\r\nContent-Disposition: form-data; filename="v.txt"--u--'))
    add("mp-header-over-8190", _multipart(t, b'form-data; name="file"; filename="h.txt"',
                                          extra=b"X-Part: " + b"p" * 9000 + b"\r\n"))
    add("mp-many-part-headers", _multipart(t, b'form-data; name="file"; filename="mh.txt"',
                                           extra=b"".join(b"X-P%d: 1\r\n" % i for i in range(500))))
    add("mp-part-gzip-junk", _multipart(t, b'form-data; name="file"; filename="pg.txt"',
                                        extra=b"Content-Encoding: gzip\r\n", body=b"junk"))
    add("mp-part-base64", _multipart(t, b'form-data; name="file"; filename="fuzz-b64.txt"',
                                     extra=b"Content-Transfer-Encoding: base64\r\n", body=b"!!!not base64!!!"))
    add("mp-nested", _multipart(t, b'form-data; name="file"; filename="nested.txt"',
                                extra=b"Content-Type: multipart/mixed; boundary=inner\r\n",
                                body=b"--inner\r\n\r\nx\r\n--inner--"))
    add("mp-mixed-type", _multipart(t, b'form-data; name="file"; filename="mixed.txt"',
                                    ctype=b"multipart/mixed; boundary=fzb"))
    add("mp-only-fields", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=f"],
                                  b'--f\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--f--\r\n'))
    add("mp-two-files", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=f"],
                                b'--f\r\nContent-Disposition: form-data; name="a"; filename="t1.txt"\r\n\r\n1\r\n'
                                b'--f\r\nContent-Disposition: form-data; name="b"; filename="t2.txt"\r\n\r\n2\r\n--f--\r\n'))
    add("mp-binary-garbage", _upload("/api/files", t, ["Content-Type: multipart/form-data; boundary=g"],
                                     bytes(range(256)) * 4))

    # -- ranges and conditional requests (on a stored file) ---------------------------
    content = f"/api/files/{PLACEHOLDER_ID}/content"
    for i, rng in enumerate(["bytes=-0", "bytes=999999-", "bytes=abc", "bytes=0-0,1-1", "bytes=5-1", "bytes=--1",
                             "bytes=0-99999999999999999999999", "bytes=-99999999999999999999", "bits=0-1",
                             "bytes=0-1, ", "bytes=", "bytes=\xff-", "bytes=1-1" + ",1-1" * 2000]):
        add(f"range-{i:02d}", _req("GET", content, [("Range: " + rng).encode("latin-1")]))
    add("if-range-garbage", _req("GET", content, ["Range: bytes=0-1", "If-Range: \x01garbage"]))
    add("if-none-match-garbage", _req("GET", content, ['If-None-Match: "unterminated, W/', "Range: bytes=0-0"]))
    add("if-modified-since-garbage", _req("GET", content, ["If-Modified-Since: yesterday-ish"]))
    add("if-unmodified-since-future", _req("GET", content, ["If-Unmodified-Since: Fri, 01 Jan 9999 00:00:00 GMT"]))
    add("accept-encoding-gzip", _req("GET", content, ["Accept-Encoding: gzip, br, *;q=0"]))
    add("head-with-range", _req("HEAD", content, ["Range: bytes=0-3"]))

    # -- query parameters ------------------------------------------------------------------
    for i, q in enumerate(["limit=1e9", "limit=-1", "offset=99999999999999999999999", "offset=%00", "limit=%ff",
                           "sort=%3BDROP", "sort=name&order=sideways", "limit=1&limit=2&limit=x"]):
        add(f"list-query-{i}", _req("GET", "/api/files?" + q))
    for i, q in enumerate(["q=%ff%fe", "q=%00", "q=" + "%20" * 500, "q=" + "+".join(["w"] * 1500),
                           "q=" + urllib.parse.quote("') DETACH DELETE f //"), "q=x&by=%00", "q=x&by=tag&limit=0",
                           "q=" + urllib.parse.quote("漢字 ｆｕｌｌ ＷＩＤＴＨ"), "q=a,,,,,,&by=tag",
                           "q=" + urllib.parse.quote("\u202e\u200b")]):
        add(f"search-{i}", _req("GET", "/api/search?" + q))
    for i, q in enumerate(["q=%ff", "q=%00&limit=51", "q=" + "a" * 4000, "q=x&limit=abc"]):
        add(f"suggest-{i}", _req("GET", "/api/suggest?" + q))
    for i, q in enumerate(["kind=%ff&prefix=%00", "prefix=" + "'" * 300, "limit=100000"]):
        add(f"tags-{i}", _req("GET", "/api/tags?" + q))
    add("graph-limit-huge", _req("GET", "/api/graph?limit=99999999999"))
    add("related-bad-limit", _req("GET", f"/api/files/{PLACEHOLDER_ID}/related?limit=x"))

    # -- paths ------------------------------------------------------------------------------
    for i, p in enumerate(["/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                           "/static/..%2f..%2f..%2fetc%2fpasswd", "/static/%252e%252e/etc/passwd",
                           "/api/files/..%2f..%2fetc%2fpasswd/content", "/api/files/%00/content",
                           "/api/files/%ff/content", "/%2e%2e/%2e%2e/", "//etc/passwd", "/api//files",
                           "/api/files/" + "\u00e9".encode().decode("latin-1") + "/content",
                           "/api/files/x/content/../../../../etc/passwd", "/static/vendor/../../server.py",
                           "/openapi.json/..", "/metrics?x=%ff", "/healthz#fragment"]):
        add(f"path-{i:02d}", _req("GET", p.encode("latin-1")))
    add("delete-traversal", _req("DELETE", "/api/files/..%2f..%2fetc%2fpasswd", [f"Authorization: Bearer {t}"]))
    add("json-body-on-get", _req("GET", "/api/files", ["Content-Type: application/json"], b"{" * 1000))
    return cases
