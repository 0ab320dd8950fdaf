"""The server as `qa serve` runs it (``web.server``), live on loopback: a full queue answers 503
with Retry-After, slow and idle clients are cut off, kept-alive connections stay usable.

Functional checks only: deadlines are short so that the tests are quick, and no test asserts how
fast anything is.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from embeddings.hashing import HashEmbedder
from qa import components
from qa.answer.extractive import ExtractiveAnswerer
from qa.core.settings import Settings
from qa.core.types import Answer, Hit
from qa.pipeline import Pipeline
from web import server
from web.app import create_app

QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"


class GatedAnswerer:
    """The keyword answerer, held back until the test opens the gate."""

    name = "extractive"

    def __init__(self, inner: ExtractiveAnswerer) -> None:
        self.inner = inner
        self.gate = threading.Event()

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        assert self.gate.wait(30), "the test never opened the gate"
        return self.inner.answer(question, hits)

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        answer = self.answer(question, hits)
        yield answer.text
        yield answer


@contextmanager
def live(app: FastAPI, settings: Settings) -> Iterator[str]:
    """``app`` served by ``web.server.config`` on a free loopback port, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = server.config(app, settings, "127.0.0.1", 0, log_level="warning")
    config.timeout_graceful_shutdown = 1
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()


def _settings(pipeline: Pipeline, **overrides: object) -> Settings:
    return pipeline.settings.model_copy(update=overrides)


def _wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_full_queue_answers_503_with_retry_after(pipeline: Pipeline) -> None:
    settings = _settings(pipeline, server_workers=1, server_queue=1)
    gated = GatedAnswerer(components.extractive(settings, pipeline.data))
    app = create_app(settings, Pipeline(settings, embedder=HashEmbedder(), answerer=gated))
    compute = app.state.compute
    with live(app, settings) as url, ThreadPoolExecutor(2) as pool:

        def ask() -> httpx.Response:
            return httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=30)

        running = pool.submit(ask)  # holds the one worker
        _wait_for(lambda: compute.admitted == 1, "the first question to start")
        waiting = pool.submit(ask)  # the one place in the queue
        _wait_for(lambda: compute.admitted == 2, "the second question to queue")

        busy = [ask(), httpx.post(f"{url}/v1/chat/completions", json=_chat(), timeout=30)]
        search = httpx.get(f"{url}/api/search", params={"q": QUESTION}, timeout=30)
        gated.gate.set()
        answered = [running.result(), waiting.result()]

    for response in [*busy, search]:
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        error = response.json()["error"]
        assert error["type"] == "busy_error"
        assert "bận" in error["message"]
    assert [r.status_code for r in answered] == [200, 200]
    assert compute.admitted == 0


def _chat() -> dict[str, object]:
    return {"model": "hoidap", "messages": [{"role": "user", "content": QUESTION}]}


def test_the_queue_lets_questions_through_once_there_is_room(pipeline: Pipeline) -> None:
    settings = _settings(pipeline, server_workers=1, server_queue=0)
    app = create_app(settings, pipeline)
    with live(app, settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        replies = [http.post("/api/ask", json={"question": QUESTION}) for _ in range(3)]
        stream = http.post("/api/ask/stream", json={"question": QUESTION})
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert stream.status_code == 200
    assert "event: answer" in stream.text


def _read_until_closed(sock: socket.socket, limit_s: float, trickle: bytes = b"") -> bytes:
    """What the server sends until it closes the connection; ``trickle`` is sent a byte at a
    time meanwhile, as a slow-loris client does."""
    received = b""
    deadline = time.monotonic() + limit_s
    sock.settimeout(0.1)
    position = 0
    while time.monotonic() < deadline:
        if position < len(trickle) and not received:  # after the reply, only wait for the close
            try:
                sock.send(trickle[position : position + 1])
            except OSError:  # the server closed it; what it sent before may still be unread
                position = len(trickle)
                continue
            position += 1
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the connection was still open after {limit_s} s (received {received!r})")


@pytest.fixture
def impatient(pipeline: Pipeline) -> Iterator[tuple[str, int]]:
    settings = _settings(pipeline, server_header_timeout=0.5, server_body_timeout=0.5)
    with live(create_app(settings, pipeline), settings) as url:
        yield url, int(url.rsplit(":", 1)[1])


def test_slow_headers_are_cut_off(impatient: tuple[str, int]) -> None:
    _, port = impatient
    head = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    with socket.create_connection(("127.0.0.1", port)) as sock:
        received = _read_until_closed(sock, 20, trickle=head)
    assert received.startswith(b"HTTP/1.1 408")


def test_an_idle_connection_that_never_asks_is_closed(impatient: tuple[str, int]) -> None:
    _, port = impatient
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert _read_until_closed(sock, 20).startswith(b"HTTP/1.1 408")


def test_a_slow_body_is_cut_off(impatient: tuple[str, int]) -> None:
    _, port = impatient
    body = b'{"question": "' + b"a" * 200 + b'"}'
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        received = _read_until_closed(sock, 20, trickle=body)
    assert received.startswith(b"HTTP/1.1 408")


def test_a_kept_alive_connection_outlives_the_header_deadline(
    impatient: tuple[str, int],
) -> None:
    """Between requests the keep-alive timeout applies, not the (short) header deadline."""
    _, port = impatient
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    for _ in range(2):
        connection.request("GET", "/healthz")
        response = connection.getresponse()  # RemoteDisconnected if the server had closed it
        response.read()
        statuses.append(response.status)
        time.sleep(1.0)  # twice the header deadline, well within the keep-alive
    connection.close()
    assert statuses == [200, 200]


def test_the_server_keeps_idle_connections_longer_than_client_pools() -> None:
    """A server that closes an idle connection as a pool reuses it drops that request (about 1
    in 600 under 200 clients with uvicorn's 5 s, the same as httpx's pool expiry)."""
    settings = Settings()
    config = server.config(FastAPI(), settings, "127.0.0.1", 8000)
    assert config.timeout_keep_alive == settings.server_keep_alive
    assert settings.server_keep_alive > 2 * httpx.Limits(max_connections=1).keepalive_expiry
    assert config.limit_concurrency == settings.server_max_connections
