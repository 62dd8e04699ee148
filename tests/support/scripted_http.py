"""HTTP servers that answer exactly the bytes a test scripts, the odd and the broken included."""
from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest


def read_request(conn: socket.socket) -> bytes | None:
    """One request's head and body (by Content-Length); None if the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        more = conn.recv(65536)
        if not more:
            return None
        body += more
    return head + b"\r\n\r\n" + body


class ScriptedServer:
    """Accepts connections; each runs `handler(conn, index)` in a thread of its own."""

    def __init__(self, handler, tls: ssl.SSLContext | None = None):
        self.handler, self.tls = handler, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn, self.connections), daemon=True).start()

    def _run(self, conn, index):
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn:
                self.handler(conn, index, self)
        except OSError:  # ssl.SSLError included: a client that refused the certificate
            conn.close()

    def request(self, conn) -> bytes | None:
        request = read_request(conn)
        if request is not None:
            self.requests.append(request)
        return request

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self):
        self.listener.close()


@pytest.fixture
def serve():
    servers = []

    def start(handler, tls=None) -> ScriptedServer:
        servers.append(ScriptedServer(handler, tls))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


def keep_answering(*responses: bytes, pause: float = 0.0):
    """A handler answering each request on a connection with the responses' pieces, in turn."""
    def handler(conn, _index, server):
        while server.request(conn) is not None:
            for piece in responses:
                conn.sendall(piece)
                time.sleep(pause)
    return handler
