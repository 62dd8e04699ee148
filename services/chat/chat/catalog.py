"""The model catalog: MODEL_CATALOG when configured, else what the upstream lists (cached)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import openai

from rolechat_common.logs import log
from rolechat_common.web import ApiError

from .config import CatalogModel, Config
from .upstream import Upstream, error_facts

logger = logging.getLogger("rolechat.chat.catalog")
# Without DEFAULT_MODEL, an inexpensive general model the provider lists, before alphabetical order.
PREFERRED_DEFAULTS = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o")

# Families an OpenAI /v1/models listing includes that cannot hold a chat conversation.
NOT_CHAT = ("embedding", "whisper", "tts", "dall-e", "davinci", "babbage", "moderation", "transcribe",
            "realtime", "audio", "image", "sora")


def is_chat_model(model_id: str) -> bool:
    lowered = model_id.lower()
    return not any(word in lowered for word in NOT_CHAT)


class ModelCatalog:
    def __init__(self, config: Config, upstream: Upstream):
        self.config = config
        self.upstream = upstream
        self._cached: tuple[tuple[CatalogModel, ...], str] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def models(self) -> tuple[tuple[CatalogModel, ...], str]:
        """The models a conversation may use, and the default one."""
        if self.config.model_catalog is not None:
            catalog = self.config.model_catalog
            return catalog, self.config.default_model or catalog[0].id
        if self._fresh():
            return self._cached
        with self._lock:
            if self._fresh():
                return self._cached
            try:
                self._cached = self._fetch()
                self._fetched_at = time.monotonic()
            except ApiError:
                if self._cached is None:
                    raise
                log(logger, logging.WARNING, "serving the previous model list")
                self._fetched_at = time.monotonic() - self.config.models_cache_seconds + 5  # retry soon
            return self._cached

    def resolve(self, model_id: str | None, registered: Callable[[], list[dict]] | None = None) -> str:
        """The model to use: the one asked for if the catalog (or the caller's registered fine-tuned
        models, from `registered()`) has it, the default when none is given."""
        models, default = self.models()
        if not model_id:
            return default
        if any(m.id == model_id for m in models):
            return model_id
        if registered is not None and any(m.get("id") == model_id for m in registered()):
            return model_id
        raise ApiError(400, "unknown_model", f"Unknown model '{model_id}'; GET /api/models lists the ones available.")

    def available(self, registered: list[dict]) -> tuple[list[CatalogModel], str]:
        """The catalog plus the caller's registered (and published) fine-tuned models."""
        models, default = self.models()
        result = list(models)
        known = {m.id for m in models}
        for item in registered:
            if item.get("id") not in known:
                result.append(CatalogModel(item["id"], item.get("label") or item["id"], fine_tuned=True))
                known.add(item["id"])
        return result, default

    def entry(self, model_id: str) -> CatalogModel | None:
        """The catalog's entry for a model (it may carry context_window etc.), if it has one."""
        if self.config.model_catalog is None:
            return None
        return next((m for m in self.config.model_catalog if m.id == model_id), None)

    def _fresh(self) -> bool:
        return self._cached is not None and time.monotonic() - self._fetched_at < self.config.models_cache_seconds

    def _fetch(self) -> tuple[tuple[CatalogModel, ...], str]:
        client = self.upstream.client.with_options(timeout=10.0, max_retries=1)
        try:
            page = client.models.list()
            ids = sorted({m.id for m in page.data if isinstance(getattr(m, "id", None), str) and m.id})
        except openai.OpenAIError as exc:
            log(logger, logging.WARNING, "could not list the upstream's models", **error_facts(exc))
            raise ApiError(502, "upstream_error",
                           "The model provider did not answer with its list of models; try again shortly.") from None
        ids = [i for i in ids if is_chat_model(i)]
        default = self.config.default_model
        if default and default not in ids:
            ids.insert(0, default)  # the operator named it: offer it even if the listing omits it
        if not ids:
            raise ApiError(502, "upstream_error", "The model provider lists no chat models.")
        preferred = next((i for i in PREFERRED_DEFAULTS if i in ids), ids[0])
        return tuple(CatalogModel(i, i) for i in ids), default or preferred
