"""Serving the app with uvicorn: connection timeouts, keep-alive, and the threads the libraries use.

uvicorn times out only idle kept-alive connections, and any byte that arrives restarts that wait,
so a client that sends one byte every few seconds holds a connection (and a task) for as long as
it likes, and a connection that never sends anything is never closed. ``GuardedH11Protocol``
gives every request a deadline instead: its headers must be in within ``server_header_timeout``
seconds of its first byte (or of the connection being made), its body within
``server_body_timeout`` seconds after them. A client that misses it gets ``408`` and the
connection is closed.

The keep-alive timeout is long on purpose: a server that closes an idle connection at the moment
a client's pool reuses it loses that request (httpx and many other pools keep connections for
5 s, uvicorn's own default). With the server waiting longer than the clients, they always close
first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.core.settings import Settings

logger = logging.getLogger(__name__)

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: 22\r\n\r\n"
    b"Request took too long."
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers and body."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0

    _deadline: asyncio.TimerHandle | None = None
    _phase: str | None = None  # "head" or "body" while a deadline runs

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("head", self.header_timeout)  # a connection that never sends is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if not self.transport.is_closing():
            self._watch()

    def _watch(self) -> None:
        """Move the deadline along with what the client has sent so far."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body", self.body_timeout)
        elif state is h11.IDLE:
            # the first bytes of the next request start its clock; until then the idle
            # keep-alive timeout applies
            if self._phase is None and self.conn.trailing_data[0]:
                self._arm("head", self.header_timeout)
        else:
            self._disarm()

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, None

    def _expired(self) -> None:
        phase = self._phase
        self._deadline, self._phase = None, None
        if self.transport.is_closing():
            return
        logger.warning("Closing a connection from %s: request %s too slow", self.client, phase)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def protocol(settings: Settings) -> type[GuardedH11Protocol]:
    """The protocol class with the settings' deadlines (uvicorn builds one per connection)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": settings.server_header_timeout,
            "body_timeout": settings.server_body_timeout,
        },
    )


def config(
    app: FastAPI, settings: Settings, host: str, port: int, **options: object
) -> uvicorn.Config:
    """How ``qa serve`` (and the load benchmark) run ``app``; ``options`` go to uvicorn as they are."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol(settings),
        timeout_keep_alive=settings.server_keep_alive,
        limit_concurrency=settings.server_max_connections,
        timeout_graceful_shutdown=settings.server_shutdown_timeout,
        **options,  # type: ignore[arg-type]
    )


def limit_library_threads(threads: int) -> None:
    """Threads FAISS, BLAS and torch may use inside one request.

    Requests already run side by side (``web.compute``); OpenMP threads on top of that only fight
    over the same cores, and spinning FAISS threads were measured 10x slower than one thread for
    flat search at 10k passages on 2 shared cores. Libraries loaded later read the variables.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(threads)
    threadpool_limits(threads)
    if "torch" in sys.modules:  # never imported just for this: the hash embedder needs no torch
        sys.modules["torch"].set_num_threads(threads)
