"""Contract tests every implementation of a protocol passes (haystack's document-store habit).

A test module subclasses a contract and provides its fixtures: ``EmbedderContract`` needs
``embedder`` (and ``embedder_code``, the Python statements that make the same embedder in a
fresh process), ``AnswererContract`` needs ``answerer`` and ``pipeline``, and
``VectorBackendContract`` needs ``backend``. The classes are named without the ``Test`` prefix
so that pytest collects only the subclasses.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.core.protocols import Answerer, Embedder, VectorBackend
from qa.core.settings import PROJECT_ROOT
from qa.core.types import Answer, Article, Citation

TEXTS = [
    "Tỷ lệ người dân tộc thiểu số ở Cao Bằng chiếm 94,88%.",
    "Hội nghị được tổ chức tại huyện Trùng Khánh, tỉnh Cao Bằng.",
    "ty le nguoi dan toc thieu so",
]
ANSWERABLE = "Cao Bằng có bao nhiêu huyện biên giới?"
UNANSWERABLE = "Tỷ lệ hộ nghèo ở Đồng Tháp là bao nhiêu?"  # no article names Đồng Tháp


def assert_exact_quotes(
    articles: Mapping[str, Article], citations: Iterable[Citation | Mapping[str, Any]]
) -> None:
    """Every citation quotes exactly ``article.text[start:end]`` (objects or JSON dicts)."""
    for c in citations:
        if isinstance(c, Mapping):
            article_id, start, end, quote = c["article_id"], c["start"], c["end"], c["quote"]
        else:
            article_id, start, end, quote = c.article_id, c.start, c.end, c.quote
        assert articles[article_id].text[start:end] == quote


class EmbedderContract:
    """Shape, float32, L2-normalized, deterministic across processes, empty input."""

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError

    @pytest.fixture
    def embedder_code(self) -> str:
        """Python statements that assign the same embedder to ``embedder`` in a new process."""
        raise NotImplementedError

    def test_passages_are_a_normalized_float32_matrix(self, embedder: Embedder) -> None:
        vectors = embedder.embed_passages(TEXTS)
        assert vectors.shape == (len(TEXTS), embedder.dim)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    def test_query_is_a_normalized_float32_vector(self, embedder: Embedder) -> None:
        vector = embedder.embed_query(TEXTS[0])
        assert vector.shape == (embedder.dim,)
        assert vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4

    def test_empty_input_gives_an_empty_matrix(self, embedder: Embedder) -> None:
        vectors = embedder.embed_passages([])
        assert vectors.shape == (0, embedder.dim)
        assert vectors.dtype == np.float32

    def test_same_text_same_vector(self, embedder: Embedder) -> None:
        np.testing.assert_array_equal(
            embedder.embed_query(TEXTS[1]), embedder.embed_query(TEXTS[1])
        )
        first, again = embedder.embed_passages(TEXTS), embedder.embed_passages(TEXTS)
        np.testing.assert_allclose(first, again, atol=1e-6)

    def test_deterministic_across_processes(self, embedder: Embedder, embedder_code: str) -> None:
        script = (
            "import json, sys\n"
            f"{embedder_code}\n"
            "print(json.dumps(embedder.embed_passages(json.loads(sys.argv[1])).tolist()))\n"
        )
        run = subprocess.run(
            [sys.executable, "-c", script, json.dumps(TEXTS)],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_ROOT,
        )
        other = np.array(json.loads(run.stdout.strip().splitlines()[-1]), dtype=np.float32)
        np.testing.assert_allclose(embedder.embed_passages(TEXTS), other, atol=1e-5)


class AnswererContract:
    """The stream ends with an Answer; quotes are exact; a refusal cites nothing."""

    @pytest.fixture
    def answerer(self) -> Answerer:
        raise NotImplementedError

    def expect(self, question: str) -> None:
        """Called before each question (a scripted model queues its reply here)."""

    def _stream(self, answerer: Answerer, pipeline: Any, question: str) -> list[str | Answer]:
        self.expect(question)
        return list(answerer.stream(question, pipeline.search(question)))

    def test_stream_is_text_then_one_answer(self, answerer: Answerer, pipeline: Any) -> None:
        *deltas, final = self._stream(answerer, pipeline, ANSWERABLE)
        assert isinstance(final, Answer)
        assert all(isinstance(d, str) for d in deltas)
        assert final.answerer == answerer.name or final.notes  # a fallback says why

    def test_answer_quotes_the_exact_characters(self, answerer: Answerer, pipeline: Any) -> None:
        *_, final = self._stream(answerer, pipeline, ANSWERABLE)
        assert isinstance(final, Answer)
        assert not final.refused and final.citations
        assert "7 huyện biên giới" in final.text
        assert_exact_quotes(pipeline.data.articles, final.citations)
        cited = {n for s in final.sentences for n in s.citations}
        assert cited <= {c.number for c in final.citations}

    def test_refusal_has_no_citations(self, answerer: Answerer, pipeline: Any) -> None:
        *_, final = self._stream(answerer, pipeline, UNANSWERABLE)
        assert isinstance(final, Answer)
        assert final.refused
        assert final.citations == [] and final.sentences == []
        assert final.hits  # the closest passages are still shown
        assert final.notes


class VectorBackendContract:
    """build / add / search / save / load for one backend and index kind."""

    @pytest.fixture
    def backend(self) -> VectorBackend:
        raise NotImplementedError

    @staticmethod
    def vectors(n: int = 2000, dim: int = 32, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        vectors = rng.normal(size=(n, dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def test_search_finds_the_nearest_vector(self, backend: VectorBackend) -> None:
        vectors = self.vectors()
        index = backend.build(vectors)
        assert len(index) == len(vectors)
        hits = 0
        for i in range(0, 2000, 100):
            scores, ids = index.search(vectors[i], 5)
            assert len(ids) == 5 and (ids >= 0).all()
            assert all(a >= b - 1e-6 for a, b in itertools.pairwise(scores))
            hits += int(ids[0] == i)
        assert hits >= 18  # approximate kinds may miss one or two

    def test_k_larger_than_the_index(self, backend: VectorBackend) -> None:
        vectors = self.vectors()
        index = backend.build(vectors)
        _, ids = index.search(vectors[0], len(vectors) + 10)
        assert len(ids) <= len(vectors) and len(set(ids.tolist())) == len(ids)

    def test_add_appends_rows(self, backend: VectorBackend) -> None:
        vectors = self.vectors()
        index = backend.build(vectors[:1500])
        index.add(vectors[1500:])
        assert len(index) == 2000
        _, ids = index.search(vectors[1900], 3)
        assert 1900 in ids.tolist()

    def test_save_and_load_give_the_same_results(
        self, backend: VectorBackend, tmp_path: Path
    ) -> None:
        vectors = self.vectors()
        index = backend.build(vectors)
        index.save(tmp_path / "dense.index")
        loaded = backend.load(tmp_path / "dense.index", index.kind)
        assert len(loaded) == len(index) and loaded.kind == index.kind
        for i in (0, 777, 1999):
            np.testing.assert_array_equal(
                index.search(vectors[i], 5)[1], loaded.search(vectors[i], 5)[1]
            )
