#!/usr/bin/env python3
"""A bounded UDP flood and a counting receiver, for the XDP and AF_XDP labs.

    udpflood.py send HOST PORT [--flows 2048] [--per-flow 10] [--size 64]
    udpflood.py recv PORT [--expect N] [--seconds 10]

send: FLOWS sockets (source ports --base-port .. +FLOWS-1) each send
PER-FLOW datagrams, interleaved, paced in bursts (--burst packets, then
--pause s) so that a slow receiver is not the thing measured. It stops by
itself: exactly FLOWS * PER-FLOW packets. Prints JSON {sent, seconds, pps}.

recv: counts datagrams on PORT until --expect arrived or nothing came for
--idle s, or --seconds passed. Prints "ready" once bound, then JSON
{received, seconds}.
"""

import argparse
import json
import resource
import socket
import sys
import time

SO_RCVBUFFORCE = 33


def _open_files_for(flows: int) -> None:
    """One socket per flow: raise the soft open-files limit (often 1024 in a
    login session) to what the flood needs, or say what to do."""
    need = flows + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            sys.exit(f"--flows {flows} needs {need} open files but the hard limit is {hard}: "
                     f"raise it (ulimit -Hn) or send fewer flows")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def send(args) -> dict:
    _open_files_for(args.flows)
    socks = []
    try:
        for i in range(args.flows):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((args.bind, args.base_port + i))
            socks.append(s)
        payload = b"\xa5" * args.size
        dest = (args.host, args.port)
        sent = 0
        start = time.monotonic()
        for _ in range(args.per_flow):
            for s in socks:
                s.sendto(payload, dest)
                sent += 1
                if sent % args.burst == 0 and args.pause:
                    time.sleep(args.pause)
        seconds = time.monotonic() - start
    finally:
        for s in socks:
            s.close()
    return {"sent": sent, "seconds": round(seconds, 3), "pps": round(sent / seconds) if seconds else 0}


def recv(args) -> dict:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind((args.bind, args.port))
    s.settimeout(args.idle)
    print("ready", flush=True)
    received, first, last = 0, None, None
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and (not args.expect or received < args.expect):
        try:
            s.recv(65536)
        except socket.timeout:
            if received:
                break
            continue
        last = time.monotonic()
        first = first or last
        received += 1
    s.close()
    return {"received": received, "seconds": round((last or 0) - (first or 0), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--flows", type=int, default=2048)
    p.add_argument("--per-flow", type=int, default=10)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--base-port", type=int, default=20000)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--burst", type=int, default=128)
    p.add_argument("--pause", type=float, default=0.001)
    p = sub.add_parser("recv")
    p.add_argument("port", type=int)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--idle", type=float, default=1.0, help="stop after this long without a packet")
    args = ap.parse_args()
    if args.cmd == "send" and args.flows * args.per_flow > 10_000_000:
        ap.error("more than 10 million packets: keep floods bounded")
    result = send(args) if args.cmd == "send" else recv(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
