"""The local language model: a GGUF file served in this process by xllamacpp on 127.0.0.1.

It speaks the same OpenAI-compatible API as a remote endpoint, so both share one client.
"""

from __future__ import annotations

import atexit
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.answer.llm_client import OpenAIChatClient
from qa.core.errors import ModelError

_LOCAL_CONTEXT = 4096


@dataclass(frozen=True)
class _LocalServer:
    server: Any  # xllamacpp.Server: stops when the last reference goes
    api_key: str  # so that other programs on this machine cannot use it

    @property
    def base_url(self) -> str:
        return f"{self.server.listening_address.rstrip('/')}/v1"


# One in-process llama.cpp server per model file, shut down when the interpreter exits.
_SERVERS: dict[Path, _LocalServer] = {}
_SERVERS_LOCK = threading.Lock()
atexit.register(_SERVERS.clear)


def local_client(path: Path, *, threads: int, max_tokens: int, timeout: float) -> OpenAIChatClient:
    """A client of the local model's server (the GGUF file ``path``), started on first use."""
    path = path.resolve()
    if not path.is_file():
        raise ModelError(
            f"Không có mô hình ngôn ngữ ở {path}. Chạy `qa llm fetch-model` để tải mô hình "
            "mặc định, hoặc đặt HOIDAP_LLM_MODEL_PATH là đường dẫn tới một tệp GGUF."
        )
    with _SERVERS_LOCK:
        if path not in _SERVERS:
            _SERVERS[path] = _start_server(path, threads, max_tokens)
        local = _SERVERS[path]
    return OpenAIChatClient(local.base_url, "local", local.api_key, timeout)


def _start_server(path: Path, threads: int, max_tokens: int) -> _LocalServer:
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelError(
            "Chưa cài xllamacpp, cần cho HOIDAP_ANSWERER=llm: pip install 'hoidap[llm]'."
        ) from exc
    api_key = secrets.token_urlsafe(24)
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = _LOCAL_CONTEXT
    params.n_predict = max_tokens
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.api_keys = [api_key]
    params.verbosity = 1  # llama.cpp logs errors only
    try:
        return _LocalServer(xllamacpp.Server(params), api_key)
    except Exception as exc:
        raise ModelError(f"Không chạy được mô hình ngôn ngữ {path}: {exc}") from exc
