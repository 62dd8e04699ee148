"""gunicorn settings shared by every service: `gunicorn -c python:rolechat_common.gunicorn_conf`.

Streams are long and mostly idle, so gevent workers. keepalive outlives the ALB's idle timeout
(so the ALB, not us, closes idle connections), and graceful_timeout lets in-flight answers finish
on SIGTERM.
"""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "2000"))
keepalive = int(os.environ.get("KEEPALIVE_SECONDS", "75"))
timeout = int(os.environ.get("WORKER_TIMEOUT_SECONDS", "120"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT_SECONDS", "120"))
control_socket_disable = True  # several services share a host locally; none needs it
accesslog = None  # each app logs its own JSON access line, with the request id
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_worker_init(worker):
    """On SIGTERM, note the drain deadline before gunicorn stops accepting (rolechat_common.shutdown)."""
    import signal

    from rolechat_common import shutdown

    stop = worker.handle_exit

    def handle_exit(sig, frame):
        shutdown.begin(worker.cfg.graceful_timeout)
        stop(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)


def on_starting(server):
    """Headers leave with the first body bytes (rolechat_common.one_write); workers fork after this."""
    from rolechat_common import one_write

    one_write.install()
