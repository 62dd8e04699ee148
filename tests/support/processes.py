"""Real processes for tests: Redis servers and rolechat services under gunicorn, on free ports."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEST_SECRET = "test-internal-identity-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last error on timeout
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout}s (last error: {last_error!r})")


class Process:
    """A child process with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.args, self.env = name, args, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class RedisServer(Process):
    """A private, durable Redis: AOF with fsync on every write, on its own port and directory."""

    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        args = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--protected-mode", "yes"]
        super().__init__(f"redis-{self.port}", args, dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        super().start()
        wait_until(self._ping, 10, f"redis on {self.port}")
        return self

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")


class Service(Process):
    """A rolechat service under gunicorn, exactly as it runs in production (gevent workers)."""

    def __init__(self, name: str, app: str, env: dict[str, str], log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "LOG_LEVEL": "INFO", **env}
        args = [str(BIN / "gunicorn"), "-c", "python:rolechat_common.gunicorn_conf", app]
        super().__init__(name, args, full_env, log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Service":
        super().start()
        try:
            wait_until(lambda: requests.get(self.url + "/healthz", timeout=1).ok, timeout, self.name)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{self.name} did not start; its log:\n{self.log_text()[-3000:]}") from None
        return self
