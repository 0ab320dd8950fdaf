"""Answers written by a language model, checked against the passages before they are shown.

The model only writes: hoidap decides. It refuses before asking when retrieval found too little
(``qa.answer.refusal``), and it never presents the model's words as grounded unless the citation
checker finds them in the cited passages; otherwise the extractive answer is given, with a note.
The client is any OpenAI-compatible endpoint (``llm_client``), a remote one or the local model's
server (``llm_server``).

Streaming: the model's deltas are yielded as they arrive, then the final checked ``Answer``.
When that Answer differs from the streamed text (renumbered citations, a fallback), the UI
replaces the streamed text with ``Answer.text``; after a failure or an unverifiable answer the
stream also yields a note and the extractive text, for clients that only concatenate deltas.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace

from qa.answer.citations import CitationChecker, Claim, parse_claims
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.llm_client import Message, OpenAIChatClient
from qa.answer.prompts import render
from qa.answer.refusal import REFUSAL, decide, refusal, says_refusal
from qa.core.errors import BackendError
from qa.core.index_data import IndexData
from qa.core.types import Answer, Hit
from qa.text.vietnamese import nfc


@dataclass(frozen=True)
class _Passage:
    number: int
    title: str
    date: str
    text: str


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


class LLMAnswerer:
    """Retrieval decides whether to answer; the model writes; the citation checker verifies."""

    def __init__(
        self,
        name: str,
        client: OpenAIChatClient,
        data: IndexData,
        extractive: ExtractiveAnswerer,
        *,
        max_sentences: int,
        max_tokens: int,
        refusal_threshold: float,
    ) -> None:
        self.name = name
        self._client = client
        self._data = data
        self._extractive = extractive
        self.max_sentences = max_sentences
        self.max_tokens = max_tokens
        self.refusal_threshold = refusal_threshold

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        *_, final = self.stream(question, hits)
        assert isinstance(final, Answer)
        return final

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        clock = time.perf_counter()
        decision = decide(*self._extractive.evidence_score(question, hits), self.refusal_threshold)
        if decision.refuse:
            # weak evidence: the model is not asked at all
            note = f"{decision.note[:-1]}; không hỏi mô hình ngôn ngữ." if decision.weak else ""
            yield REFUSAL
            yield refusal(question, hits, self.name, [note or decision.note])
            return

        parts: list[str] = []
        timings: dict[str, float] = {}
        try:
            yield from self._generate(self._messages(question, hits), parts, timings, clock)
        except BackendError as exc:
            yield from self._fallback(
                question, hits, f"Không dùng được mô hình ngôn ngữ: {exc}", parts
            )
            return
        timings["llm"] = time.perf_counter() - clock

        # past the limit only the beginning of a sentence was read: leave it out
        claims = _distinct(parse_claims("".join(parts))[: self.max_sentences])
        kept = [c for c in claims if not says_refusal(c.text)]
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

    def _generate(
        self, messages: list[Message], parts: list[str], timings: dict[str, float], clock: float
    ) -> Iterator[str]:
        """The model's deltas, collected into ``parts``; stops once a sentence past
        ``max_sentences`` begins (small models tend to repeat themselves, and closing the
        connection stops the generation)."""
        timings["llm_first_token"] = 0.0
        with closing(self._client.stream(messages, max_tokens=self.max_tokens)) as deltas:
            for delta in deltas:
                timings["llm_first_token"] = timings["llm_first_token"] or (
                    time.perf_counter() - clock
                )
                parts.append(delta)
                yield delta
                if delta.strip() and _sentences_begun(parts) > self.max_sentences:
                    break

    def _messages(self, question: str, hits: list[Hit]) -> list[Message]:
        passages = []
        for number, hit in enumerate(hits, start=1):
            article = self._data.articles[hit.chunk.article_id]
            passages.append(_Passage(number, article.title, article.date, hit.chunk.text))
        system = render("system.j2", refusal=REFUSAL, max_sentences=self.max_sentences)
        user = render(
            "answer.j2",
            question=question,
            passages=passages,
            refusal=REFUSAL,
            max_sentences=self.max_sentences,
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _fallback(
        self, question: str, hits: list[Hit], note: str, streamed: list[str]
    ) -> Iterator[str | Answer]:
        answer = self._extractive.answer(question, hits)
        yield (f"\n\n({note})\n\n" if streamed else "") + answer.text
        yield replace(answer, notes=[note, *answer.notes])
