"""The compact keyword index against a reference float32 BM25 matrix, on the bundled corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from qa.core.settings import Settings
from qa.core.types import QueryTerms
from qa.index.bm25 import BM25Index
from qa.ingest.chunking import SentenceChunker
from qa.ingest.loading import load_articles
from qa.text.sentences import sentence_spans
from qa.text.terms import document_terms, query_terms
from qa.text.vietnamese import fold
from tests.conftest import CORPUS

K1, B = 1.2, 0.75


def reference_scores(docs: list[list[str]], terms: list[str]) -> np.ndarray:
    """BM25 of every passage as a float32 term-by-passage weight matrix (the previous index)."""
    vocabulary: dict[str, int] = {}
    rows = [vocabulary.setdefault(t, len(vocabulary)) for d in docs for t in d]
    cols = [i for i, d in enumerate(docs) for _ in d]
    tf = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(vocabulary), len(docs))
    )
    tf.sum_duplicates()
    lengths = np.array([len(d) for d in docs], np.float32)
    norm = K1 * (1 - B + B * lengths / lengths.mean())
    df = np.diff(tf.indptr).astype(np.float32)
    idf = np.log1p((len(docs) - df + 0.5) / (df + 0.5))
    term_of = np.repeat(np.arange(len(vocabulary)), np.diff(tf.indptr))
    tf.data = idf[term_of] * tf.data * (K1 + 1) / (tf.data + norm[tf.indices])
    weights = np.zeros(len(docs), np.float32)
    for t in terms:
        if t in vocabulary:
            weights += tf[vocabulary[t]].toarray().ravel()
    return weights


@pytest.fixture(scope="module")
def corpus() -> tuple[list[tuple[list[str], list[str]]], list[str]]:
    """The bundled corpus's passages' terms, and questions made of its sentences."""
    articles = load_articles([CORPUS])
    settings = Settings(articles=[CORPUS])
    chunker = SentenceChunker(settings.chunk_size, settings.chunk_overlap)
    docs = [document_terms(a.text[s:e]) for a in articles for s, e in chunker.chunk(a)]
    sentences = [a.text[s:e] for a in articles for s, e in sentence_spans(a.text)][::3]
    return docs, sentences + [fold(s) for s in sentences[::4]]


def _top(scores: np.ndarray, k: int = 10) -> list[int]:
    return np.argsort(-scores, kind="stable")[:k].tolist()


def test_top_ten_matches_the_float32_matrix_on_the_bundled_corpus(corpus, tmp_path: Path) -> None:
    docs, questions = corpus
    built = BM25Index.build(docs, k1=K1, b=B)
    built.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    assert len(questions) > 50 and any(query_terms(q, {}, {}).folded for q in questions)
    for question in questions:
        query = query_terms(question, {}, loaded.folded_vocabulary)
        field = 1 if query.folded else 0
        expected = reference_scores([d[field] for d in docs], query.terms)
        got = loaded.scores(query)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        # ties aside (equal scores may come in either order), the same ten passages
        assert expected[_top(got)] == pytest.approx(expected[_top(expected)], abs=1e-5)
        assert (got == built.scores(query)).all()


def test_saved_lists_are_memory_mapped_and_stored_once(corpus, tmp_path: Path) -> None:
    docs, _ = corpus
    index = BM25Index.build(docs, k1=K1, b=B)
    index.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    assert isinstance(loaded._postings.tf, np.memmap)
    vocabulary_rows = len(loaded._accented.vocabulary) + len(loaded.folded_vocabulary)
    assert len(loaded._postings) < vocabulary_rows  # 'người' and 'nguoi' share one list
    assert loaded._accented.vocabulary["người"] == loaded.folded_vocabulary["nguoi"]
    assert loaded.nbytes == index.nbytes


def test_gap_width_follows_the_largest_gap_of_each_list() -> None:
    docs = [(["a"] + (["b"] if i in (0, 70_000) else []), ["a"]) for i in range(70_001)]
    index = BM25Index.build(docs, k1=K1, b=B)
    rows = index._accented.vocabulary
    assert index._postings.width[rows["a"]] == 0  # gaps of 1: uint8
    assert index._postings.width[rows["b"]] == 2  # a gap of 70,000: uint32
    assert index._postings.passages(rows["b"]).tolist() == [0, 70_000]
    scores = index.scores(QueryTerms(["b", "b"], folded=False))
    assert scores[0] == scores[70_000] > 0 == scores[1]


def test_an_empty_index_scores_nothing(tmp_path: Path) -> None:
    BM25Index.build([], k1=K1, b=B).save(tmp_path)
    index = BM25Index.load(tmp_path)
    assert len(index) == 0 and index.scores(QueryTerms(["a"], folded=False)).shape == (0,)
    assert index.idf(QueryTerms(["a"], folded=True)).tolist() == pytest.approx([np.log(2)])


def test_each_question_is_scored_afresh(corpus) -> None:
    """No scores are kept between calls: a caller changing one result changes no other."""
    docs, questions = corpus
    index = BM25Index.build(docs, k1=K1, b=B)
    query = query_terms(questions[0], {}, index.folded_vocabulary)
    first = index.scores(query)
    expected = first.copy()
    first[:] = 0
    top_scores, top, of_asked = index.top_and_scores_of(query, 5, [0, 1])
    np.testing.assert_array_equal(index.scores(query), expected)
    np.testing.assert_array_equal(top_scores, expected[top])
    np.testing.assert_array_equal(of_asked, expected[[0, 1]])
