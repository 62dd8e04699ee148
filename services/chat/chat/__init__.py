"""rolechat chat: the model catalog, prompt assembly and answers streamed through the openai SDK."""
from __future__ import annotations

import gevent
from flask import Flask

from rolechat_common import identity, logs, web

from . import presets
from .catalog import ModelCatalog
from .config import Config
from .memory import MemoryClient, MemoryFailure
from .upstream import Upstream


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure("chat", config.log_level)
    app = Flask(__name__)
    app.config["CHAT"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes

    memory = MemoryClient(config.memory_url, config.identity_secret, timeout=config.memory_timeout_seconds)
    upstream = Upstream(config)
    app.extensions["chat.memory"] = memory
    app.extensions["chat.upstream"] = upstream
    app.extensions["chat.catalog"] = ModelCatalog(config, upstream)
    app.extensions["chat.presets"] = presets.load(config.role_presets_file)
    app.extensions["chat.spawn"] = gevent.spawn  # background work (summaries); tests may run it inline

    def ready():
        problem = memory.healthy()
        if problem:
            yield problem

    web.install(app, "chat", identity_secret=config.identity_secret,
                allowed_issuers=(identity.ISSUER_AUTH_PROXY,), ready=ready)

    @app.errorhandler(MemoryFailure)
    def _memory_failure(exc: MemoryFailure):
        response = app.json.response(exc.body)
        response.status_code = exc.status
        if exc.retry_after:
            response.headers["Retry-After"] = exc.retry_after
        return response

    from .routes import bp
    app.register_blueprint(bp)
    from .roles import bp as roles_bp
    app.register_blueprint(roles_bp)
    from .bots import bp as bots_bp
    app.register_blueprint(bots_bp)
    from .openai_compat import bp as openai_bp
    app.register_blueprint(openai_bp)
    return app
