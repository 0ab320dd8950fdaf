"""The empty chat's starter questions, made once per loaded index build."""

from __future__ import annotations

import threading

from qa.core.errors import HoidapError
from qa.core.index_data import IndexData
from qa.pipeline import Pipeline
from qa.text.starters import starter_questions


class Starters:
    def __init__(self, limit: int = 4) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._made: tuple[IndexData, list[str]] | None = None

    def questions(self, pipeline: Pipeline) -> list[str]:
        """None while there is no usable index (asking then says what is wrong)."""
        try:
            data = pipeline.data
        except HoidapError:
            return []
        with self._lock:
            if self._made is None or self._made[0] is not data:
                self._made = (data, starter_questions(data.articles.values(), self.limit))
            return self._made[1]
