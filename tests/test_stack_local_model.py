"""The bundled model (SmolLM2-135M through llama-cpp-python) answers through the whole stack."""
from __future__ import annotations

import os
import sys

import pytest
import requests

from tests.support.processes import Process, free_port, wait_until
from tests.support.sse import parse_sse
from tests.support.stack import Stack

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    port = free_port()
    model = Process("local-model", [sys.executable, "-m", "local_model"],
                    {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}, tmp_path_factory.mktemp("model-logs"))
    model.start()
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until(lambda: requests.get(base_url + "/models", timeout=2).ok, 120, "local model")
    except TimeoutError:
        model.stop()
        raise AssertionError("the local model did not start:\n" + model.log_text()[-3000:]) from None
    yield base_url
    model.stop()


@pytest.fixture(scope="module")
def model_stack(tmp_path_factory, local_model):
    stack = Stack(tmp_path_factory.mktemp("model-stack"), local_model,
                  chat_env={"MAX_ANSWER_TOKENS": "48", "SSE_HEARTBEAT_SECONDS": "10"}).start()
    yield stack
    stack.stop()


def test_the_bundled_model_streams_a_non_empty_answer(model_stack):
    session = model_stack.login("yuki")
    models = session.get(f"{model_stack.edge}/api/models", timeout=10).json()
    assert models["default"] == "smollm2-135m-instruct"
    cid = session.post(f"{model_stack.edge}/api/conversations",
                       json={"instructions": "You are a friendly programming teacher."}, timeout=10).json()["id"]
    response = session.post(f"{model_stack.edge}/api/conversations/{cid}/messages",
                            json={"content": "What is a variable?"}, timeout=120)
    events = parse_sse(response.content)
    deltas = [e.data["content"] for e in events if e.kind == "delta"]
    assert events[-1].kind == "done", events[-1]
    answer = "".join(deltas)
    assert answer.strip(), "the model said something"
    assert len(deltas) >= 2, "the answer streamed in pieces"
    assert events[-1].data["message"]["content"] == answer
    assert events[-1].data["message"]["model"] == "smollm2-135m-instruct"
