"""Answers written by a language model, checked against the passages before they are shown.

``openai`` talks to any OpenAI-compatible ``/chat/completions`` endpoint; ``llm`` runs a GGUF
model in this process with xllamacpp, which serves the same API on 127.0.0.1, so both share one
client. The model only writes: hoidap decides. It refuses before asking when retrieval found
too little, and it never presents the model's words as grounded unless the citation checker
finds them in the cited passages; otherwise the extractive answer is given, with a note.

Streaming: the model's deltas are yielded as they arrive, then the final checked ``Answer``.
When that Answer differs from the streamed text (renumbered citations, a fallback), the UI
replaces the streamed text with ``Answer.text``; after a failure or an unverifiable answer the
stream also yields a note and the extractive text, for clients that only concatenate deltas.
"""

from __future__ import annotations

import atexit
import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from qa.answer import followup
from qa.answer.citations import CitationChecker, Claim, parse_claims
from qa.answer.extractive import REFUSAL, ExtractiveAnswerer, refusal
from qa.answer.model_fetch import default_model_path
from qa.answer.prompts import render
from qa.core.errors import BackendError, ModelError
from qa.core.settings import Settings
from qa.core.types import Answer, Hit, Turn
from qa.index.store import IndexData
from qa.text.vietnamese import nfc

Message = dict[str, str]

_REWRITE_TURNS = 3
_REWRITE_TOKENS = 96
_LOCAL_CONTEXT = 4096


class OpenAIChatClient:
    """Streams a chat completion; every failure becomes a ``BackendError`` naming the URL."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0) -> None:
        # base_url is the API root, version included, as OpenAI clients take it (".../v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def stream(self, messages: list[Message], *, max_tokens: int = 256) -> Iterator[str]:
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

    def complete(self, messages: list[Message], *, max_tokens: int = 256) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, max_tokens=max_tokens))

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


@dataclass(frozen=True)
class _Passage:
    number: int
    title: str
    date: str
    text: str


def _first_line(reply: str) -> str:
    """The model's first line, without an echoed "Câu hỏi đã viết lại:" label or quotes."""
    line = next((s for s in reply.splitlines() if s.strip()), "")
    label, colon, rest = line.partition(":")
    if colon and label.strip().casefold().startswith("câu hỏi"):
        line = rest
    return nfc(line.strip().strip("\"'“”").strip())


def _sentences_begun(parts: list[str]) -> int:
    """Sentences of the text so far; a trailing citation marker does not begin one."""
    claims = parse_claims("".join(parts))
    if claims and not any(ch.isalpha() for ch in claims[-1].text):
        return len(claims) - 1
    return len(claims)


def _distinct(claims: list[Claim]) -> list[Claim]:
    """The claims without repeats of an earlier sentence."""
    seen: dict[str, Claim] = {}
    for claim in claims:
        seen.setdefault(nfc(claim.text).casefold().strip(" ."), claim)
    return list(seen.values())


def _is_refusal(sentence: str) -> bool:
    return REFUSAL.casefold().rstrip(".") in nfc(sentence).casefold()


class LLMAnswerer:
    """Retrieval decides whether to answer; the model writes; the citation checker verifies."""

    def __init__(
        self,
        name: str,
        client: OpenAIChatClient,
        data: IndexData,
        extractive: ExtractiveAnswerer,
        settings: Settings,
    ) -> None:
        self.name = name
        self._client = client
        self._data = data
        self._extractive = extractive
        self._settings = settings

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        *_, final = self.stream(question, hits)
        assert isinstance(final, Answer)
        return final

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        clock = time.perf_counter()
        hits = hits[: self._extractive.passages]
        score, unknown = self._extractive.evidence_score(question, hits)
        if unknown or score < self._settings.refusal_threshold:
            note = (
                f"Các bài viết không nhắc đến: {', '.join(unknown)}."
                if unknown
                else f"Bằng chứng yếu ({score:.2f}); không hỏi mô hình ngôn ngữ."
            )
            yield REFUSAL
            yield refusal(question, hits, self.name, [note])
            return

        parts: list[str] = []
        first_token = 0.0
        limit = self._settings.answer_max_sentences
        messages = self._messages(question, hits)
        try:
            with closing(
                self._client.stream(messages, max_tokens=self._settings.llm_max_tokens)
            ) as deltas:
                for delta in deltas:
                    first_token = first_token or time.perf_counter() - clock
                    parts.append(delta)
                    yield delta
                    # small models tend to repeat themselves: stop reading (closing the
                    # connection stops the generation) once a sentence past the limit begins
                    if delta.strip() and _sentences_begun(parts) > limit:
                        break
        except BackendError as exc:
            yield from self._fallback(
                question, hits, f"Không dùng được mô hình ngôn ngữ: {exc}", parts
            )
            return
        timings = {"llm_first_token": first_token, "llm": time.perf_counter() - clock}

        # past the limit only the beginning of a sentence was read: leave it out
        claims = _distinct(parse_claims("".join(parts))[:limit])
        kept = [c for c in claims if not _is_refusal(c.text)]
        if claims and not kept:
            note = "Mô hình ngôn ngữ không tìm thấy câu trả lời trong các đoạn văn."
            yield replace(refusal(question, hits, self.name, [note]), timings=timings)
            return
        checked = CitationChecker(self._data).check(kept, hits)
        if not checked.grounded:
            note = (
                "Câu trả lời của mô hình ngôn ngữ không kiểm chứng được bằng các đoạn văn; "
                "dùng câu trả lời trích từ bài viết."
            )
            yield from self._fallback(question, hits, note, parts)
            return
        yield checked.answer(question, hits, self.name, timings)

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        """A standalone version of a follow-up question; the rule-based rewrite on any failure."""
        if not history:
            return question
        prompt = render("rewrite.j2", question=question, history=list(history[-_REWRITE_TURNS:]))
        try:
            reply = self._client.complete(
                [{"role": "user", "content": prompt}], max_tokens=_REWRITE_TOKENS
            )
        except BackendError:
            return followup.rewrite(question, history)
        line = _first_line(reply)
        if not line or len(line) > self._settings.max_question_chars:
            return followup.rewrite(question, history)
        return line

    def _messages(self, question: str, hits: list[Hit]) -> list[Message]:
        passages = []
        for number, hit in enumerate(hits, start=1):
            article = self._data.articles[hit.chunk.article_id]
            passages.append(_Passage(number, article.title, article.date, hit.chunk.text))
        system = render(
            "system.j2", refusal=REFUSAL, max_sentences=self._settings.answer_max_sentences
        )
        user = render("answer.j2", question=question, passages=passages, refusal=REFUSAL)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _fallback(
        self, question: str, hits: list[Hit], note: str, streamed: list[str]
    ) -> Iterator[str | Answer]:
        answer = self._extractive.answer(question, hits)
        yield (f"\n\n({note})\n\n" if streamed else "") + answer.text
        yield replace(answer, notes=[note, *answer.notes])


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


def local_client(settings: Settings) -> OpenAIChatClient:
    """A client of the local model's server, started on first use."""
    path = (settings.llm_model_path or default_model_path(settings)).resolve()
    if not path.is_file():
        raise ModelError(
            f"Không có mô hình ngôn ngữ ở {path}. Chạy `qa llm fetch-model` để tải mô hình "
            "mặc định, hoặc đặt HOIDAP_LLM_MODEL_PATH là đường dẫn tới một tệp GGUF."
        )
    with _SERVERS_LOCK:
        if path not in _SERVERS:
            _SERVERS[path] = _start_server(path, settings)
        local = _SERVERS[path]
    return OpenAIChatClient(local.base_url, "local", local.api_key, settings.llm_timeout)


def _start_server(path: Path, settings: Settings) -> _LocalServer:
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
    params.n_predict = settings.llm_max_tokens
    params.n_parallel = 1
    params.cpuparams.n_threads = settings.llm_threads
    params.cpuparams_batch.n_threads = settings.llm_threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    params.api_keys = [api_key]
    params.verbosity = 1  # llama.cpp logs errors only
    try:
        return _LocalServer(xllamacpp.Server(params), api_key)
    except Exception as exc:
        raise ModelError(f"Không chạy được mô hình ngôn ngữ {path}: {exc}") from exc


def llm_answerer(
    settings: Settings, data: IndexData, extractive: ExtractiveAnswerer
) -> LLMAnswerer:
    """The answerer for ``settings.answerer`` ``openai`` or ``llm``."""
    if settings.answerer == "openai":
        client = OpenAIChatClient(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key,
            settings.llm_timeout,
        )
    elif settings.answerer == "llm":
        client = local_client(settings)
    else:
        raise ValueError(f"answerer must be 'openai' or 'llm'; got {settings.answerer!r}")
    return LLMAnswerer(settings.answerer, client, data, extractive, settings)
