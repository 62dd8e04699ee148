"""rolechat memory: the system of record for conversations and messages, in Redis."""
from __future__ import annotations

import redis
from flask import Flask

from rolechat_common import identity, logs, web
from rolechat_common.config import redis_client

from .config import Config
from .profile_store import ProfileStore
from .store import LimitReached, PinTooLong, Store

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
              redis.exceptions.BusyLoadingError)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure("memory", config.log_level)
    app = Flask(__name__)
    app.config["MEMORY"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes

    client = redis_client(config.redis_url, config.redis_cluster, max_connections=config.redis_max_connections)
    app.extensions["memory.store"] = Store(client, max_conversations=config.max_conversations_per_user,
                                           max_messages=config.max_messages_per_conversation)

    app.extensions["memory.profile"] = ProfileStore(client)

    def ready():
        try:
            client.ping()
        except redis.exceptions.RedisError as exc:
            yield f"redis: {type(exc).__name__}"

    web.install(app, "memory", identity_secret=config.identity_secret,
                allowed_issuers=(identity.ISSUER_AUTH_PROXY, identity.ISSUER_CHAT), ready=ready)

    # Refusals every blueprint raises the same way; the exception carries the message.
    app.register_error_handler(LimitReached, lambda exc: web.error_response(400, "limit_reached", str(exc)))
    app.register_error_handler(PinTooLong, lambda exc: web.error_response(413, "too_long", str(exc)))

    @app.errorhandler(redis.exceptions.RedisError)
    def _redis_error(exc):
        if isinstance(exc, REDIS_DOWN):
            return web.error_response(503, "unavailable", "Storage is temporarily unavailable; try again shortly.",
                                      {"Retry-After": "2"})
        app.logger.exception("redis error")
        return web.error_response(500, "internal", "Something went wrong on our side; try again.")

    from .routes import bp
    app.register_blueprint(bp)
    from .profile_routes import bp as profile_bp
    app.register_blueprint(profile_bp)
    from .bot_routes import bp as bots_bp
    app.register_blueprint(bots_bp)
    return app
