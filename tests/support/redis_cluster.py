"""A Redis in cluster mode for tests, as MemoryDB speaks it: one node owning every slot."""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from tests.support.processes import Process, free_port, wait_until


class RedisClusterNode(Process):
    def __init__(self, data_dir: Path, log_dir: Path):
        self.port = free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        args = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", str(data_dir / "nodes.conf"),
                "--cluster-port", str(free_port()),  # not port+10000, which may exceed 65535
                "--dir", str(data_dir), "--save", ""]
        super().__init__(f"redis-cluster-{self.port}", args, dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisClusterNode":
        super().start()
        wait_until(lambda: self.command("PING").startswith(b"+PONG"), 10, "redis cluster node")
        assert self.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383").startswith(b"+OK")
        wait_until(lambda: b"cluster_state:ok" in self.command("CLUSTER", "INFO"), 10, "cluster state ok")
        return self

    def command(self, *args: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(("*%d\r\n" % len(args) + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)).encode())
            return s.recv(4096)
