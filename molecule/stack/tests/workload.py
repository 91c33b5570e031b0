#!/usr/bin/env python3
"""The file workload of the disgrafs scenario, run ON THE TEST HOST against the
DisGraFS server over the lab network. Standard library only (the test host has
python3 and nothing else of ours). Every command prints one JSON document.

    workload.py make DIR                      sample files -> {name: sha256}
    workload.py upload URL TOKEN DIR          upload every file -> {name: record}
    workload.py wait URL ID... [--timeout S]  wait until tagged -> {id: record with tags}
    workload.py download URL ID...            -> {id: {sha256, size, header_sha256}}
    workload.py delete URL TOKEN ID           -> {status}
    workload.py get URL ID                    -> {status, record}
    workload.py health URL [--timeout S]      wait for /healthz 200 -> body
    workload.py purge URL TOKEN NAME...       delete files with these names -> {name: status}
"""

import hashlib
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

TEXT = """DisGraFS lab notes
A graph file system keeps every file as a node of a graph and every tag as
another node; files that share tags are neighbours. JuiceFS stores the bytes,
Redis holds the JuiceFS metadata and Neo4j holds the graph. The kernel's
socket redirect bypass moves bytes between local sockets without TCP.
"""


def sample_pdf() -> bytes:
    """A one-page PDF with real text (pypdf extracts it), offsets computed."""
    stream = b"BT /F1 18 Tf 72 720 Td (Graph file system lab: JuiceFS Neo4j eBPF) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def sample_png(width: int = 96, height: int = 64) -> bytes:
    """An RGB gradient PNG, built with zlib."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 128)) for x in range(width))
        for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def make(directory: str) -> dict:
    os.makedirs(directory, exist_ok=True)
    files = {
        "lab-notes.txt": TEXT.encode() * 20,
        "lab-paper.pdf": sample_pdf(),
        "lab-picture.png": sample_png(),
        # 6 MiB of random bytes: more than one JuiceFS block (4 MiB)
        "lab-blob.bin": os.urandom(6 * 1024 * 1024 + 12345),
    }
    result = {}
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as fh:
            fh.write(data)
        result[name] = hashlib.sha256(data).hexdigest()
    return result


def request(method: str, url: str, token: str = "", data: bytes | None = None, timeout: float = 120):
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def upload(base: str, token: str, directory: str) -> dict:
    result = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as fh:
            data = fh.read()
        query = urllib.parse.urlencode({"name": name, "conflict": "fail"})
        status, body, _ = request("POST", f"{base}/api/files?{query}", token, data)
        if status != 201:
            raise SystemExit(f"upload of {name}: HTTP {status}: {body[:300]!r}")
        result[name] = json.loads(body)
    return result


def get(base: str, file_id: str) -> dict:
    status, body, _ = request("GET", f"{base}/api/files/{file_id}")
    return {"status": status, "record": json.loads(body) if status == 200 else None}


def wait(base: str, ids: list[str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        records = {i: get(base, i)["record"] for i in ids}
        if all(r and r["tag_status"] in ("done", "failed") for r in records.values()):
            return records
        if time.monotonic() > deadline:
            return records
        time.sleep(1)


def download(base: str, ids: list[str]) -> dict:
    result = {}
    for file_id in ids:
        status, body, headers = request("GET", f"{base}/api/files/{file_id}/content")
        result[file_id] = {"status": status, "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                           "header_sha256": headers.get("X-Content-SHA256", "")}
    return result


def health(base: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body, _ = request("GET", f"{base}/healthz", timeout=10)
            last = {"status": status, "body": body.decode(errors="replace")}
            if status == 200:
                return json.loads(body)
        except OSError as exc:
            last = {"error": str(exc)}
        time.sleep(1)
    raise SystemExit(f"not healthy after {timeout} s: {last}")


def purge(base: str, token: str, names: list[str]) -> dict:
    status, body, _ = request("GET", f"{base}/api/files?limit=1000")
    if status != 200:
        raise SystemExit(f"list: HTTP {status}: {body[:300]!r}")
    result = {}
    for item in json.loads(body)["items"]:
        if item["name"] in names:
            result[item["name"]] = request("DELETE", f"{base}/api/files/{item['id']}", token)[0]
    return result


def main(argv: list[str]) -> None:
    timeout = 120.0
    if "--timeout" in argv:
        i = argv.index("--timeout")
        timeout = float(argv[i + 1])
        del argv[i:i + 2]
    cmd, args = argv[0], argv[1:]
    if cmd == "make":
        out = make(args[0])
    elif cmd == "upload":
        out = upload(args[0], args[1], args[2])
    elif cmd == "wait":
        out = wait(args[0], args[1:], timeout)
    elif cmd == "download":
        out = download(args[0], args[1:])
    elif cmd == "delete":
        status, body, _ = request("DELETE", f"{args[0]}/api/files/{args[2]}", args[1])
        out = {"status": status, "body": body.decode(errors="replace")}
    elif cmd == "get":
        out = get(args[0], args[1])
    elif cmd == "purge":
        out = purge(args[0], args[1], args[2:])
    elif cmd == "health":
        out = health(args[0], timeout)
    else:
        raise SystemExit(__doc__)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
