"""`python -m local_model`: serve the bundled SmolLM2 model on HOST:PORT (OpenAI-compatible)."""
from __future__ import annotations

import os
import sys

from local_model import MODEL_ALIAS, Config, LocalModelError, find_model, server_settings


def main() -> int:
    try:
        config = Config.from_env()
        model_path = find_model()
    except LocalModelError as exc:
        print(f"local-model: {exc}", file=sys.stderr)
        return 2
    import uvicorn
    from llama_cpp.server.app import create_app

    server, model = server_settings(config, model_path)
    print(
        f"local-model: loading {model_path.name} as {MODEL_ALIAS!r} "
        f"(context {config.context_size}, {config.threads} threads)",
        file=sys.stderr, flush=True,
    )
    os.environ.pop("CONFIG_FILE", None)  # llama-cpp-python would load its settings from there instead
    app = create_app(server_settings=server, model_settings=[model])
    print(f"local-model: serving on http://{config.host}:{config.port}/v1", file=sys.stderr, flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
