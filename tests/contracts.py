"""Contract tests every implementation of a protocol passes (haystack's document-store habit).

A test module subclasses a contract and provides its fixtures: ``EmbedderContract`` needs
``embedder`` (and ``embedder_code``, the Python statements that make the same embedder in a
fresh process), ``AnswererContract`` needs ``answerer`` and ``pipeline``,
``VectorBackendContract`` needs ``backend``, and ``IndexBackendContract`` needs
``backend_settings`` (the settings that choose the backend). The classes are named without the ``Test`` prefix
so that pytest collects only the subclasses.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings.hashing import HashEmbedder
from qa import components
from qa.core.protocols import Answerer, Embedder, VectorBackend
from qa.core.settings import PROJECT_ROOT
from qa.core.types import Answer, Article, Citation
from qa.pipeline import Pipeline
from qa.text.terms import query_terms
from tests.conftest import CORPUS, make_settings

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


class IndexBackendContract:
    """An ``IndexBackend`` under the pipeline: hybrid hits, keyword scores, reload, re-index."""

    @pytest.fixture
    def backend_settings(self) -> dict[str, Any]:
        raise NotImplementedError

    @pytest.fixture
    def pipe(self, backend_settings: dict[str, Any], tmp_path: Path) -> Pipeline:
        corpus = tmp_path / "articles"
        shutil.copytree(CORPUS, corpus)
        settings = make_settings(tmp_path / "data", **backend_settings)
        pipeline = Pipeline(
            settings.model_copy(update={"articles": [corpus]}), embedder=HashEmbedder()
        )
        pipeline.index()
        return pipeline

    def test_hits_carry_both_stages_scores(self, pipe: Pipeline) -> None:
        hits = pipe.search(ANSWERABLE, 5)
        assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
        assert all(set(h.scores) == {"dense", "bm25"} for h in hits)
        assert "biên giới" in hits[0].chunk.text
        article = pipe.data.articles[hits[0].chunk.article_id]
        assert article.text[hits[0].chunk.start : hits[0].chunk.end] == hits[0].chunk.text

    def test_keyword_top_and_scores_of_agree(self, pipe: Pipeline) -> None:
        data = pipe.data
        terms = query_terms("dân tộc thiểu số Cao Bằng", data.acronyms, data.bm25.folded_vocabulary)
        scores, ids = data.bm25.top(terms, 10)
        assert len(ids) == 10 and all(a >= b - 1e-6 for a, b in itertools.pairwise(scores))
        # one call: the same top, and the scores of passages inside and outside it
        deeper_scores, deeper = data.bm25.top(terms, 30)
        asked = [*deeper[25:].tolist(), *ids[:3].tolist()]
        top_scores, top_ids, of_asked = data.bm25.top_and_scores_of(terms, 10, asked)
        assert top_ids.tolist() == ids.tolist()
        np.testing.assert_allclose(top_scores, scores, rtol=1e-5)
        expected = [*deeper_scores[25:].tolist(), *scores[:3].tolist()]
        np.testing.assert_allclose(of_asked, expected, rtol=1e-5)
        assert deeper_scores[25:].min() > 0
        folded = query_terms(
            "dan toc thieu so cao bang", data.acronyms, data.bm25.folded_vocabulary
        )
        assert folded.folded and data.bm25.top(folded, 1)[1][0] in ids
        unmatched = query_terms("xyzzy", data.acronyms, data.bm25.folded_vocabulary)
        assert len(data.bm25.top(unmatched, 5)[1]) == 0 or data.bm25.top(unmatched, 5)[0].max() == 0
        assert data.bm25.top_and_scores_of(unmatched, 5, [0, 1])[2].tolist() == [0.0, 0.0]

    def test_every_fusion_reads_this_backends_candidates(self, pipe: Pipeline) -> None:
        data = pipe.data
        terms = query_terms(ANSWERABLE, data.acronyms, data.bm25.folded_vocabulary)
        for fusion in ("learned", "mix", "rrf", "bm25", "dense"):
            settings = pipe.settings.model_copy(update={"fusion": fusion})
            hits = components.retriever(settings, data, pipe.embedder).retrieve(ANSWERABLE, 5)
            assert [h.rank for h in hits] == [1, 2, 3, 4, 5], fusion
            if fusion in ("bm25", "dense"):
                continue
            # every candidate's BM25 score is its own, whether or not it was in the BM25 top
            ids = [h.chunk.id for h in hits]
            exact = data.bm25.top_and_scores_of(terms, 1, ids)[2]
            np.testing.assert_allclose([h.scores["bm25"] for h in hits], exact, rtol=1e-5)

    def test_a_new_process_loads_the_same_index(self, pipe: Pipeline) -> None:
        again = Pipeline(pipe.settings, embedder=HashEmbedder())
        for question in (ANSWERABLE, "ty le ho ngheo", UNANSWERABLE):
            first, second = pipe.search(question, 5), again.search(question, 5)
            assert [h.chunk.id for h in first] == [h.chunk.id for h in second]

    def test_reindex_adds_changes_and_removes_articles(self, pipe: Pipeline) -> None:
        corpus = pipe.settings.articles[0]
        (corpus / "004_eb0597a851750997.txt").write_text("Bài mới\nCá tầm ở Sa Pa.", "utf-8")
        (corpus / "003_39cab0024c364b55.txt").unlink()
        (corpus / "new.txt").write_text("Bài thêm\nHợp tác xã chè Shan tuyết.", "utf-8")
        report = pipe.index()
        assert (report.changed, report.removed, report.added) == (
            ["004_eb0597a851750997"],
            ["003_39cab0024c364b55"],
            ["new"],
        )
        assert report.embedded == 2
        hits = pipe.search("dân tộc thiểu số", 50)
        assert hits and all(h.chunk.article_id != "003_39cab0024c364b55" for h in hits)
        assert pipe.search("chè Shan tuyết", 1)[0].chunk.article_id == "new"
        assert pipe.search("cá tầm Sa Pa", 1)[0].chunk.article_id == "004_eb0597a851750997"
        again = Pipeline(pipe.settings, embedder=HashEmbedder())
        assert again.search("chè Shan tuyết", 1)[0].chunk.article_id == "new"

    def test_a_failed_rebuild_leaves_the_previous_index_serving(
        self, pipe: Pipeline, tmp_path: Path
    ) -> None:
        from qa.core.errors import InputError

        before = pipe.index_dir.resolve()
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "x.txt").write_bytes("Tiêu đề\nnội dung".encode("utf-16"))
        with pytest.raises(InputError, match="UTF-8"):
            pipe.index([bad])
        assert pipe.index_dir.resolve() == before
        assert Pipeline(pipe.settings, embedder=HashEmbedder()).search(ANSWERABLE, 1)
