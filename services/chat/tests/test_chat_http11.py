"""Chat's HTTP/1.1 transport to the model provider (chat.http11), against real sockets: servers
that answer exactly the bytes each test scripts, including the odd and the broken."""
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import textwrap
import time

import httpx2
import pytest

from chat.http11 import HTTP11Transport, _key, body_pieces
from tests.support.scripted_http import keep_answering, serve  # noqa: F401 - serve is a fixture


def client(max_connections: int = 10, timeout: float = 5.0, **options) -> httpx2.Client:
    transport = HTTP11Transport(max_connections=max_connections, max_keepalive=4, **options)
    return httpx2.Client(transport=transport, timeout=timeout)


CHUNKED = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
           b"5;name=value\r\nhel", b"lo\r", b"\n6\r\n wor", b"ld\r\n0\r\nX-Trailer: t\r\n", b"\r\n")


def test_a_chunked_body_split_anywhere_with_extensions_and_trailers_is_decoded_and_the_connection_kept(serve):
    server = serve(keep_answering(*CHUNKED, pause=0.02))
    with client() as http:
        for _ in range(3):
            with http.stream("POST", server.url("/v1/chat/completions"), json={"stream": True}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/event-stream"
                assert b"".join(response.iter_bytes()) == b"hello world"
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:%d\r\n" % server.port in first.lower()
    assert first.endswith(b'{"stream":true}')


def test_sized_and_read_to_close_bodies(serve):
    def handler(conn, index, server):
        server.request(conn)
        if index == 1:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello")
            time.sleep(0.05)
            conn.sendall(b" world")
            server.request(conn)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the ")
            time.sleep(0.05)
            conn.sendall(b"end")
        else:
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    server = serve(handler)
    with client() as http:
        assert http.get(server.url()).content == b"hello world"
        assert http.get(server.url()).content == b"until the end"
        assert http.get(server.url()).status_code == 204  # a new connection: the last one ended at its close
    assert server.connections == 2


def test_an_informational_response_before_the_answer_is_skipped(serve):
    server = serve(keep_answering(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"))
    with client() as http:
        response = http.post(server.url(), content=b"x")
    assert (response.status_code, response.content) == (201, b"ok")


def test_an_idle_connection_the_provider_closed_is_not_reused(serve):
    def handler(conn, _index, server):
        server.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # then closes: keep-alive over
    server = serve(handler)
    transport = HTTP11Transport(max_connections=10, max_keepalive=4)
    with httpx2.Client(transport=transport, timeout=5.0) as http:
        assert http.get(server.url()).content == b"ok"
        time.sleep(0.1)
        assert transport._take_idle(_key(httpx2.URL(server.url()))) is None  # seen closed: not handed out
        assert http.get(server.url()).content == b"ok"
    assert server.connections == 2 and len(server.requests) == 2


def test_a_request_the_provider_drops_on_a_reused_connection_is_sent_once_more_on_a_new_one(serve):
    def handler(conn, index, server):
        server.request(conn)
        if index == 1:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            server.request(conn)  # read the second request, then close without a word
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
    server = serve(handler)
    with client() as http:
        assert http.get(server.url()).content == b"first"
        assert http.post(server.url(), content=b"again").content == b"second"
    assert server.connections == 2 and len(server.requests) == 3


def test_a_reused_connection_closed_long_after_the_request_is_an_error_not_a_resend(serve):
    """The provider may have begun work on it: sending it again could pay for it twice."""
    def handler(conn, _index, server):
        server.request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
        server.request(conn)
        time.sleep(0.6)  # working on it... then the connection goes
    server = serve(handler)
    with client() as http:
        assert http.get(server.url()).content == b"first"
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            http.post(server.url(), content=b"expensive")
    assert server.connections == 1 and len(server.requests) == 2


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(serve):
    server = serve(keep_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    with client() as http:
        for headers in ({"Authorization": "Bearer sk-key\r\nX-Injected: 1"}, {"X-Key": "a\nb"}):
            with pytest.raises(httpx2.LocalProtocolError, match="CR, LF or NUL"):
                http.get(server.url(), headers=headers)
        assert http.get(server.url()).content == b"ok"  # the connection slots were given back
    assert server.requests and all(b"X-Injected" not in r and b"a\nb" not in r for r in server.requests)


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry(serve):
    server = serve(lambda conn, _index, server: server.request(conn))
    with client() as http, pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
        http.get(server.url())
    assert server.connections == 1


@pytest.mark.parametrize("response", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly part",      # cut mid-chunk
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                         # cut short of its length
])
def test_a_body_cut_short_raises_a_protocol_error_and_the_connection_is_dropped(serve, response):
    def handler(conn, _index, server):
        server.request(conn)
        conn.sendall(response)
    server = serve(handler)
    with client() as http:
        with pytest.raises(httpx2.RemoteProtocolError, match="complete message body"):
            http.get(server.url())


@pytest.mark.parametrize("response", [
    b"SPDY/3 200 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",
])
def test_malformed_responses_raise_protocol_errors(serve, response):
    def handler(conn, _index, server):
        server.request(conn)
        conn.sendall(response)
        time.sleep(0.5)
    server = serve(handler)
    with client() as http, pytest.raises(httpx2.RemoteProtocolError):
        http.get(server.url())


def test_timeouts_and_refused_connections_raise_httpx_exceptions(serve):
    silent = serve(lambda conn, _index, server: (server.request(conn), time.sleep(2)))
    with client(timeout=0.3) as http:
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            http.get(silent.url())
        assert time.monotonic() - started < 1.5
        closed = socket.create_server(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        with pytest.raises(httpx2.ConnectError):
            http.get(f"http://127.0.0.1:{port}/")
        with pytest.raises(httpx2.UnsupportedProtocol):
            http.get("ftp://127.0.0.1/")


def test_at_most_max_connections_then_requests_wait_for_a_free_one(serve):
    server = serve(keep_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
    with client(max_connections=1) as http:
        first = http.send(http.build_request("GET", server.url()), stream=True)
        with pytest.raises(httpx2.PoolTimeout):
            http.get(server.url(), timeout=httpx2.Timeout(5.0, pool=0.2))
        first.read()
        first.close()
        assert http.get(server.url()).content == b"ok"
    assert server.connections == 1


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_verifies_the_provider_and_keeps_the_connection(serve, tmp_path):
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = serve(keep_answering(*CHUNKED), tls=server_tls)
    with client(ssl_context=ssl.create_default_context(cafile=str(cert))) as http:
        for _ in range(2):
            assert http.get(server.url(scheme="https", host="localhost")).content == b"hello world"
    assert server.connections == 1
    with client() as http, pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        http.get(server.url(scheme="https", host="localhost"))  # the default trust store does not know it


PROBE = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, socket
    import gevent, httpx2
    from chat.http11 import HTTP11Transport, _key

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []

    def answer(conn):
        while conn.recv(65536):
            conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")

    def accept():
        while True:
            conn, _ = listener.accept()
            accepted.append(conn)
            gevent.spawn(answer, conn)
    gevent.spawn(accept)

    url = httpx2.URL(f"http://127.0.0.1:{port}/")
    key = _key(url)
    transport = HTTP11Transport(max_connections=10, max_keepalive=4)
    http = httpx2.Client(transport=transport)
    for _ in range(3):
        assert http.get(url).content == b"ok"
    ran = []
    gevent.spawn(ran.append, "another greenlet")
    kept = transport._take_idle(key)
    switched = bool(ran)
    transport._slots.acquire()  # as handle_request does before taking it: _release gives the slot back
    transport._release(kept, True)
    for conn in accepted:
        conn.shutdown(socket.SHUT_RDWR)
    gevent.sleep(0.2)
    print(json.dumps({"connections": len(accepted), "switched": switched,
                      "after_close": transport._take_idle(key) is None}))
""")


def test_under_gevent_an_idle_connection_is_checked_without_yielding_and_seen_closed():
    """Under monkey-patching, as in production: reusing an idle connection lets no other
    greenlet run, and a connection the server closed is not handed out."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"connections": 1, "switched": False,
                                                                 "after_close": True}


def test_body_pieces_come_from_the_transport_paced_with_the_connection_kept(serve, monkeypatch):
    server = serve(keep_answering(*CHUNKED, pause=0.02))
    paces = []
    monkeypatch.setattr(httpx2.Response, "iter_bytes", lambda *a, **k: pytest.fail("read through httpx"))
    with client() as http:
        for _ in range(2):
            with http.stream("POST", server.url(), json={"stream": True}) as response:
                pieces = list(body_pieces(response, lambda: paces.append(1) or False))
            assert b"".join(pieces) == b"hello world"
            assert len(pieces) >= 2  # as each read brought them: nothing gathered above the transport
    # the body's five pieces after the head arrive 20 ms apart: a pace before each read of them
    assert len(paces) >= 8, paces
    assert server.connections == 1


def test_body_pieces_of_a_compressed_body_are_decompressed_and_paced(serve):
    import gzip
    packed = gzip.compress(b"data: compressed\n\n")
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    middle = len(packed) // 2
    parts = [b"%X\r\n%s\r\n" % (len(part), part) for part in (packed[:middle], packed[middle:])]
    server = serve(keep_answering(head, *parts, b"0\r\n\r\n", pause=0.02))
    paces = []
    with client() as http:
        with http.stream("POST", server.url(), json={"stream": True}) as response:
            body = b"".join(body_pieces(response, lambda: paces.append(1) or False))
    assert body == b"data: compressed\n\n"
    assert paces


WAITS_FIRST = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, socket, sys, time
    import gevent, httpx2
    from chat.http11 import HTTP11Transport, body_pieces

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    PARTS = [b"6\\r\\ntoken1\\r\\n", b"6\\r\\ntoken2\\r\\n6\\r\\ntoken3\\r\\n", b"0\\r\\n\\r\\n"]

    def answer(conn):
        while conn.recv(65536):
            conn.sendall(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")
            for part in PARTS:
                gevent.sleep(0.05)
                conn.sendall(part)

    def accept():
        while True:
            conn, _ = listener.accept()
            gevent.spawn(answer, conn)
    gevent.spawn(accept)

    ticks = []
    def pace():  # as chat.pacing's ticks: sleep a little, say so
        gevent.sleep(0.01)
        ticks.append(1)
        return True

    beats = []
    def heartbeat():  # another greenlet: runs while the reader waits for bytes
        while True:
            beats.append(1)
            gevent.sleep(0.005)
    gevent.spawn(heartbeat)

    http = httpx2.Client(transport=HTTP11Transport(max_connections=4, max_keepalive=4))
    results = []
    for paced in (False, True):
        with http.stream("POST", f"http://127.0.0.1:{port}/", content=b"x",
                         extensions={"timeout": {"connect": 5, "read": None, "write": 5, "pool": 5}}) as response:
            before = len(beats)
            body = b"".join(body_pieces(response, pace if paced else None))
            results.append({"body": body.decode(), "others_ran": len(beats) - before})
    def read_all():
        with http.stream("POST", f"http://127.0.0.1:{port}/", content=b"x",
                         extensions={"timeout": {"connect": 5, "read": None, "write": 5, "pool": 5}}) as response:
            return list(body_pieces(response))
    stuck = gevent.spawn(read_all)
    gevent.sleep(0.02)
    class Stop(Exception):
        pass
    stuck.kill(Stop(), block=True, timeout=2)
    print(json.dumps({"results": results, "ticks": len(ticks), "stopped": stuck.dead,
                      "error": type(stuck.exception).__name__}))
""")


def test_under_gevent_a_streamed_body_waits_for_bytes_without_blocking_others_and_can_be_stopped():
    """Under monkey-patching, as in production: a body read without a read timeout waits on the
    event loop for its bytes (other greenlets run meanwhile), with and without a pace; a greenlet
    stopped while waiting gets the exception it was stopped with (as chat's producer gets
    ClientGone or UpstreamSilent)."""
    done = subprocess.run([sys.executable, "-c", WAITS_FIRST], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for run in result["results"]:
        assert run["body"] == "token1token2token3"
        assert run["others_ran"] >= 10  # ~150 ms of waiting, a heartbeat every 5 ms
    assert result["ticks"] >= 2
    assert result["stopped"] is True
    assert result["error"] == "Stop"



STOPPED_PRODUCERS = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, sys
    import gevent, gevent.queue, httpx2, openai
    from bench.floor import start_upstream
    from chat import pacing, turns
    from chat.upstream import http_client

    SLOTS = 300
    upstream, port = start_upstream(20, 100.0)
    try:
        client = openai.OpenAI(api_key="sk-floor", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                               http_client=http_client(SLOTS, httpx2.Timeout(10.0, pool=1.0)))

        def answer():  # as a turn: the producer reads the model; once its answer is in, it is stopped
            turn = turns.Turn(conversation_id="c", model="m", messages=[{"role": "user", "content": "hi"}],
                              user_message={}, who=None, request_id="r")
            queue = gevent.queue.Queue()
            producer = gevent.spawn(turns.produce, queue, client, turn, 20, pacing.Ticks.for_stream(0.025, 0.25))
            while (item := queue.get(timeout=10))[0] == turns.DELTA:
                pass
            turns._halt(producer, None)
            return item[0]

        def user():
            return [answer() for _ in range(3)]

        ended = [g.get() for g in gevent.joinall([gevent.spawn(user) for _ in range(SLOTS)], raise_error=True)]
        print(json.dumps(sorted({kind for kinds in ended for kind in kinds})))
    finally:
        upstream.terminate()
""")


def test_under_gevent_stopped_producers_give_their_connection_slots_back():
    """Chat stops each answer's producer greenlet once the answer is in; its connection slot must
    come back every time, or after enough answers new ones wait for a connection (here: a pool
    timeout, an error instead of an answer)."""
    done = subprocess.run([sys.executable, "-c", STOPPED_PRODUCERS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["end"]

