#!/usr/bin/env python3
"""Send N bytes over one local TCP connection from inside a cgroup and check
they arrive intact. Used by the lab handout and the tests to exercise the
sockredir bypass; it measures nothing about the bypass itself (read
/proc/net/snmp `Tcp: OutSegs` before and after to see whether the data
went through the TCP stack).

    tcp_probe.py --cgroup /sys/fs/cgroup/unified/disgrafs.slice --port 8080 --bytes 100M
prints JSON: {"sent_sha256": ..., "received_sha256": ..., "bytes": ...}
"""

import argparse
import hashlib
import json
import os
import socket
import threading
import time

CHUNK = 64 * 1024


def size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def join_cgroup(path: str) -> None:
    # Sockets belong to the cgroup of the process that creates them: join first.
    with open(os.path.join(path, "cgroup.procs"), "w", encoding="ascii") as f:
        f.write(str(os.getpid()))


def serve(listener: socket.socket, result: dict, deadline: float) -> None:
    conn, _ = listener.accept()
    digest, total = hashlib.sha256(), 0
    conn.settimeout(max(1.0, deadline - time.monotonic()))
    with conn:
        while True:
            try:
                data = conn.recv(CHUNK)
            except BlockingIOError:  # seen with sockhash sockets instead of EOF
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if not data:
                break
            digest.update(data)
            total += len(data)
    result.update(received_sha256=digest.hexdigest(), received_bytes=total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cgroup", help="cgroup v2 directory to join first")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bytes", type=size, default=size("100M"))
    ap.add_argument("--listen", choices=("ipv4", "dual"), default="ipv4",
                    help="dual: an IPv6 dual-stack listener with an IPv4 client (v4-mapped peer)")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    if args.cgroup:
        join_cgroup(args.cgroup)

    if args.listen == "dual":
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        bind = ("::", args.port)
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bind = ("127.0.0.1", args.port)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(bind)
    listener.listen(1)
    deadline = time.monotonic() + args.timeout
    result: dict = {}
    server = threading.Thread(target=serve, args=(listener, result, deadline), daemon=True)
    server.start()

    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        left = args.bytes
        while left > 0:
            part = block[: min(left, CHUNK)]
            client.sendall(part)
            digest.update(part)
            left -= len(part)
    server.join(max(0.0, deadline - time.monotonic()))
    listener.close()
    result.update(sent_sha256=digest.hexdigest(), bytes=args.bytes, port=args.port)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
