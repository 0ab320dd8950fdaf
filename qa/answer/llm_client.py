"""A streaming client of any OpenAI-compatible ``/chat/completions`` endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from qa.core.errors import BackendError

Message = dict[str, str]


class OpenAIChatClient:
    """Streams a chat completion; every failure becomes a ``BackendError`` naming the URL."""

    def __init__(self, base_url: str, model: str, api_key: str, timeout: float) -> None:
        # base_url is the API root, version included, as OpenAI clients take it (".../v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        """Text deltas; raises ``BackendError`` (also midway) and if the reply is empty."""
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0.0,
        }
        try:
            with (
                httpx.Client(timeout=self.timeout) as http,
                http.stream("POST", self.url, json=body, headers=self._headers) as response,
            ):
                if response.is_error:
                    response.read()
                    raise BackendError(
                        f"Máy chủ LLM {self.url} trả lỗi HTTP {response.status_code}: "
                        f"{_error_detail(response)}"
                    )
                yield from self._deltas(response.iter_lines())
        except httpx.TimeoutException as exc:
            raise BackendError(
                f"Máy chủ LLM {self.url} không trả lời trong {self.timeout:g} giây."
            ) from exc
        except httpx.ConnectError as exc:
            raise BackendError(f"Không kết nối được tới máy chủ LLM {self.url}: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise BackendError(f"Lỗi khi gọi máy chủ LLM {self.url}: {exc}") from exc

    def _deltas(self, lines: Iterator[str]) -> Iterator[str]:
        wrote = False
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, comments, event/id fields
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            delta = self._delta(payload)
            if delta:
                wrote = True
                yield delta
        if not wrote:
            raise BackendError(f"Máy chủ LLM {self.url} không trả về nội dung nào.")

    def _delta(self, payload: str) -> str:
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise BackendError(
                f"Máy chủ LLM {self.url} trả dữ liệu không phải JSON: {payload[:80]!r}"
            ) from None
        if isinstance(chunk, dict) and "error" in chunk:
            raise BackendError(f"Máy chủ LLM {self.url} báo lỗi: {_message(chunk['error'])}")
        malformed = BackendError(
            f"Máy chủ LLM {self.url} trả dữ liệu sai định dạng: {payload[:80]!r}"
        )
        try:
            choices = chunk["choices"]
            content = (choices[0].get("delta") or {}).get("content") if choices else None
        except (KeyError, IndexError, TypeError, AttributeError):
            raise malformed from None
        if content is not None and not isinstance(content, str):
            raise malformed
        return content or ""


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    return _message(error or response.text or response.reason_phrase)
