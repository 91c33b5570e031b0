"""HTTP traffic between two network namespaces (labrigs.netlab): plain HTTP
servers in the "server" namespace (on its veth address, on two ports, and on
its loopback), a client in the "client" namespace, and labctl run inside the
server namespace (where a socket filter's daemon must hold its socket)."""

import json
import os
import subprocess
import sys
import time

from labrigs.netlab import NetLab
from labrigs.rig import Rig

CLIENT = r"""
import http.client, json, sys
host, port, reqs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
conn = http.client.HTTPConnection(host, port, timeout=10)
for method, url, body in reqs:
    conn.request(method, url, body=body.encode() if body else None)
    conn.getresponse().read()
conn.close()
"""

SERVER = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: several requests per connection
    def _ok(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = b"ok\n" * 2000          # a multi-segment response: must not be logged
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _ok
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


class HttpLab(Rig):
    def __init__(self, prefix: str, ports=(8080, 8081)):
        self.lab = NetLab(prefix)
        self.ports = ports
        self.servers = []
        try:
            for ip, port in [(self.lab.SERVER_IP, p) for p in ports] + [("127.0.0.1", ports[0])]:
                self.servers.append(subprocess.Popen(self.lab.server_argv(
                    sys.executable, "-c", SERVER, ip, str(port))))
            time.sleep(0.3)
        except Exception:
            self.close()
            raise

    def labctl(self, *args, popen=False, timeout=60):
        return self.lab.labctl(*args, popen=popen, timeout=timeout)

    def send(self, reqs, host=None, port=None, where="client"):
        """[[method, url, body], ...] over one keep-alive connection."""
        run = self.lab.client if where == "client" else self.lab.server
        run(sys.executable, "-c", CLIENT, host or self.lab.SERVER_IP, str(port or self.ports[0]),
            json.dumps(reqs))

    @staticmethod
    def records(path: str, wait_for: int = 0, seconds: float = 5) -> list:
        """The JSON lines of a request log, waiting up to `seconds` for `wait_for` of them."""
        deadline = time.monotonic() + seconds
        while True:
            recs = []
            if os.path.exists(path):
                recs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
            if len(recs) >= wait_for or time.monotonic() > deadline:
                return recs
            time.sleep(0.1)

    def close(self):
        for s in self.servers:
            s.kill()
            s.wait()
        self.lab.close()
