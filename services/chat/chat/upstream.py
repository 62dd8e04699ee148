"""The model provider, through the official openai SDK: one client per process, created lazily."""
from __future__ import annotations

import os
import threading

import httpx2
import openai

from .config import Config
from .http11 import HTTP11Transport

KEEPALIVE_CONNECTIONS = 16
KEEPALIVE_SECONDS = 30.0
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def http_client(max_connections: int, timeout: httpx2.Timeout) -> httpx2.Client:
    """The SDK's HTTP client: a connection per concurrent answer, a few kept between turns."""
    # Idle connections kept for the next turns: a few suffice, since turns end and start all the time.
    keepalive = min(max_connections, KEEPALIVE_CONNECTIONS)
    if any(os.environ.get(name) or os.environ.get(name.lower()) for name in PROXY_VARIABLES):
        # Behind a proxy from the environment: httpx's own transports, which honour it
        # (ours speaks to the provider directly).
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=keepalive,
                               keepalive_expiry=KEEPALIVE_SECONDS)
        return openai.DefaultHttpxClient(limits=limits, timeout=timeout)
    transport = HTTP11Transport(max_connections=max_connections, max_keepalive=keepalive,
                               keepalive_expiry=KEEPALIVE_SECONDS)
    return openai.DefaultHttpxClient(transport=transport, timeout=timeout)


class Upstream:
    def __init__(self, config: Config):
        self.config = config
        self._client: openai.OpenAI | None = None
        self._clients: dict[str, openai.OpenAI] = {}
        self._lock = threading.Lock()

    def client_for(self, entry) -> openai.OpenAI:
        """The client for a catalog entry: its own endpoint and key when it names them."""
        if entry is None or (entry.base_url is None and entry.azure is None and entry.api_key_env is None):
            return self.client
        with self._lock:
            client = self._clients.get(entry.id)
            if client is None:
                key = self.config.provider_keys.get(entry.api_key_env) if entry.api_key_env else None
                timeout = httpx2.Timeout(self.config.upstream_read_timeout_seconds, connect=5.0)
                if entry.azure is not None:
                    endpoint, version, deployment = entry.azure
                    client = openai.AzureOpenAI(api_key=key, azure_endpoint=endpoint, api_version=version,
                                                azure_deployment=deployment, max_retries=2, timeout=timeout,
                                                http_client=self._http_client(timeout))
                else:
                    client = openai.OpenAI(api_key=key or self.config.openai_api_key,
                                           base_url=entry.base_url or self.config.openai_base_url,
                                           max_retries=2, timeout=timeout, http_client=self._http_client(timeout))
                self._clients[entry.id] = client
            return client

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    timeout = httpx2.Timeout(self.config.upstream_read_timeout_seconds, connect=5.0)
                    self._client = openai.OpenAI(
                        api_key=self.config.openai_api_key,
                        base_url=self.config.openai_base_url,
                        max_retries=2,
                        timeout=timeout,
                        http_client=self._http_client(timeout),
                    )
        return self._client

    def _http_client(self, timeout) -> httpx2.Client:
        return http_client(self.config.upstream_max_connections, timeout)


def describe_error(exc: Exception, *, partial: bool = False) -> tuple[str, str]:
    """A stable code and a message for the person chatting; never the provider's own text.

    (Provider messages can quote parts of the API key, or internal details.)
    """
    if isinstance(exc, openai.APITimeoutError):
        return "upstream_timeout", "The model did not answer in time; try again."
    if isinstance(exc, openai.APIConnectionError):
        if partial:
            return "upstream_error", "The connection to the model broke off in the middle of the answer; try again."
        return "upstream_unreachable", "The model could not be reached; try again shortly."
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return "upstream_auth", ("The model provider refused the service's credentials; "
                                     "an administrator needs to check the API key.")
        if status == 404:
            return "upstream_model_not_found", "The model provider does not offer this model; pick another one."
        if status == 429:
            return "upstream_rate_limited", "The model provider is busy or over its quota; try again in a moment."
        if 400 <= status < 500:
            return "upstream_rejected", ("The model provider rejected the request (the conversation may be too "
                                         "long for this model).")
        return "upstream_error", f"The model provider failed to answer (HTTP {status}); try again."
    if isinstance(exc, openai.APIError):
        return "upstream_error", "The model provider reported an error while answering; try again."
    return "internal", "Something went wrong on our side while answering; try again."


def error_facts(exc: Exception) -> dict:
    """What may be logged about an upstream error: its kind, status and code, no message text."""
    facts: dict = {"error": type(exc).__name__}
    if isinstance(exc, openai.APIStatusError):
        facts["upstream_status"] = exc.status_code
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        facts["upstream_code"] = code[:64]
    return facts
