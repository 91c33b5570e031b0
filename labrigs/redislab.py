"""A private redis-server on 127.0.0.1:PORT inside the "server" namespace of
a labrigs.netlab pair, with redis-cli and redis-benchmark run there too."""

import subprocess
import time

from labrigs.netlab import NetLab
from labrigs.rig import Rig


class RedisLab(Rig):
    def __init__(self, prefix: str, port: int):
        self.lab = NetLab(prefix)
        self.port = port
        self.redis = None
        try:
            self.start_redis()
        except Exception:
            self.close()
            raise

    def start_redis(self):
        self.redis = subprocess.Popen(self.lab.server_argv(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", ""), stdout=subprocess.DEVNULL)
        for _ in range(100):
            if self.cli("ping").stdout.strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def pid(self) -> int:
        """nsenter execs redis-server: the child's pid is the server's."""
        return self.redis.pid

    def stop_redis(self):
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)

    def cli(self, *args):
        return self.lab.server("redis-cli", "-p", str(self.port), *args, check=False)

    def bench(self, *args):
        return self.lab.server("redis-benchmark", "-p", str(self.port), "-q", *args, timeout=120)

    def commandstats(self) -> dict:
        """{command: calls} from redis's own INFO commandstats (upper case)."""
        calls = {}
        for line in self.cli("info", "commandstats").stdout.splitlines():
            if line.startswith("cmdstat_"):
                name, _, fields = line[len("cmdstat_"):].partition(":")
                stats = dict(f.split("=", 1) for f in fields.strip().split(","))
                calls[name.upper()] = int(stats["calls"])
        return calls

    def close(self):
        try:
            self.stop_redis()
        finally:
            self.lab.close()
