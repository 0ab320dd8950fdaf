"""An answerer standing in for another: its answers carry a note that says so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from qa.core.protocols import Answerer
from qa.core.types import Answer, Hit


class NotedAnswerer:
    def __init__(self, inner: Answerer, note: str) -> None:
        self._inner = inner
        self.note = note
        self.name = inner.name

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        return self._noted(self._inner.answer(question, hits))

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        for item in self._inner.stream(question, hits):
            yield self._noted(item) if isinstance(item, Answer) else item

    def _noted(self, answer: Answer) -> Answer:
        return replace(answer, notes=[self.note, *answer.notes])
