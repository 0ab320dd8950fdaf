import itertools

import numpy as np
import pytest

from embeddings.hashing import HashEmbedder
from qa import components
from qa.core.types import QueryTerms
from qa.index.bm25 import BM25Index
from qa.pipeline import Pipeline
from qa.retrieve.hybrid import HybridRetriever
from qa.text.terms import document_terms


def hybrid(pipeline: Pipeline, **values: object) -> HybridRetriever:
    """The retriever of the pipeline's settings, with some values changed."""
    settings = pipeline.settings.model_copy(update=values)
    return HybridRetriever(
        pipeline.data,
        HashEmbedder(),
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        candidates=settings.candidates,
        fusion_model=components.fusion_model() if settings.fusion == "learned" else None,
    )


def test_bm25_prefers_the_passage_with_rarer_matching_terms() -> None:
    docs = ["dân tộc thiểu số ở Cao Bằng", "dân tộc ở Trà Vinh", "hội nghị ở Cao Bằng"]
    index = BM25Index.build([document_terms(d) for d in docs], k1=1.2, b=0.75)
    scores = index.scores(QueryTerms(["trà", "vinh", "dân"], folded=False))
    assert int(np.argmax(scores)) == 1
    assert scores[2] == 0


def test_bm25_idf_is_highest_for_unknown_terms() -> None:
    index = BM25Index.build([document_terms("a b"), document_terms("a c")], k1=1.2, b=0.75)
    idf = index.idf(QueryTerms(["a", "b", "zzz"], folded=False))
    assert idf[0] < idf[1] < idf[2]


@pytest.mark.parametrize("fusion", ["learned", "mix", "rrf", "bm25", "dense"])
def test_every_fusion_returns_ranked_hits_with_stage_scores(
    pipeline: Pipeline, fusion: str
) -> None:
    retriever = hybrid(pipeline, fusion=fusion)
    hits = retriever.retrieve("Tỷ lệ người DTTS ở Cao Bằng", 5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    expected = {
        "learned": {"dense", "bm25"},
        "mix": {"dense", "bm25"},
        "rrf": {"dense", "bm25"},
        "bm25": {"bm25"},
        "dense": {"dense"},
    }
    assert all(set(h.scores) == expected[fusion] for h in hits)


@pytest.mark.parametrize(
    "query",
    [
        "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?",
        "ty le nguoi dan toc thieu so o cao bang",  # typed without diacritics
        "tỷ lệ người dân tộc thiểu số ở Cao Bằng",  # long form of the acronym
    ],
)
def test_keyword_search_finds_the_passage_in_every_spelling(pipeline: Pipeline, query: str) -> None:
    retriever = hybrid(pipeline, fusion="bm25")
    assert any("94,88%" in h.chunk.text for h in retriever.retrieve(query, 3))


def test_bad_retriever_arguments_are_rejected(pipeline: Pipeline) -> None:
    with pytest.raises(ValueError, match="dense_weight"):
        HybridRetriever(
            pipeline.data, HashEmbedder(), fusion="mix", dense_weight=2.0, candidates=50
        )
    with pytest.raises(ValueError, match="fusion_model"):
        HybridRetriever(
            pipeline.data, HashEmbedder(), fusion="learned", dense_weight=0.2, candidates=50
        )
    with pytest.raises(ValueError, match="k must be positive"):
        hybrid(pipeline).retrieve("x", 0)
