"""The connections chat keeps to the model provider, as they run in production (under gevent's
monkey-patching): an idle connection is asked whether the provider closed it without letting the
event loop run (httpcore asks that of every idle connection, holding its pool's lock, whenever a
request starts or ends)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, socket
    import gevent
    from chat.upstream import _Backend

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stream = _Backend().connect_tcp("127.0.0.1", listener.getsockname()[1], timeout=5)
    server, _ = listener.accept()

    ran = []
    gevent.spawn(ran.append, "another greenlet")
    idle_open = stream.get_extra_info("is_readable")
    switched = bool(ran)
    server.close()
    gevent.sleep(0.1)
    after_close = stream.get_extra_info("is_readable")
    print(json.dumps({"idle_open": idle_open, "switched": switched, "after_close": after_close}))
""")


def test_an_idle_connection_is_probed_without_yielding_and_seen_closed_when_the_provider_closes_it():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"idle_open": False, "switched": False, "after_close": True}


CLIENT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json
    import gevent, httpx2
    from gevent.pywsgi import WSGIServer
    from chat.upstream import _Stream, http_client

    server = WSGIServer(("127.0.0.1", 0), lambda env, start: (start("200 OK", []), [b"ok"])[1], log=None)
    server.start()
    client = http_client(10, httpx2.Timeout(5.0))
    streams = []
    for _ in range(3):
        response = client.get(f"http://127.0.0.1:{server.server_port}/")
        streams.append(response.extensions["network_stream"])
    print(json.dumps({"ours": all(isinstance(s, _Stream) for s in streams), "connections": len(set(map(id, streams)))}))
""")


def test_the_sdks_http_client_uses_these_connections_and_keeps_them_between_requests():
    done = subprocess.run([sys.executable, "-c", CLIENT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"ours": True, "connections": 1}
