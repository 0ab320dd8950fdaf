"""The learned fusion: its features, its weights file, its training loss and the domain table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval import domains, fusion_training
from qa.core.errors import ModelError
from qa.core.settings import Settings
from qa.pipeline import Pipeline
from qa.retrieve.fusion_model import FEATURES, Candidates, FusionModel, features
from qa.retrieve.hybrid import HybridRetriever


def candidates(dense: list[float], bm25: list[float]) -> Candidates:
    order_d = np.argsort(-np.asarray(dense), kind="stable")
    order_b = np.argsort(-np.asarray(bm25), kind="stable")
    return Candidates(
        dense=np.asarray(dense, np.float32),
        bm25=np.asarray(bm25, np.float32),
        dense_rank=np.argsort(order_d),
        bm25_rank=np.argsort(order_b),
        idf=np.asarray([1.5, 3.0], np.float32),
        pool=50,
        passages=1000,
    )


def test_features_do_not_depend_on_the_scale_of_the_dense_scores() -> None:
    base = features(candidates([0.9, 0.8, 0.7], [5.0, 0.0, 2.0]))
    scaled = features(candidates([0.45, 0.4, 0.35], [5.0, 0.0, 2.0]))
    assert base.shape == (3, len(FEATURES))
    np.testing.assert_allclose(base, scaled, atol=1e-6)


def test_query_features_see_agreement_between_the_lists() -> None:
    agree = features(candidates([0.9, 0.8, 0.7], [5.0, 3.0, 2.0]))
    column = FEATURES.index("dense*agree")
    # both lists hold all three candidates in their top 10: agreement 3/10, times dense min-max
    np.testing.assert_allclose(agree[:, column], [0.3, 0.15, 0.0], atol=1e-6)


def test_the_weights_file_round_trips_and_a_stale_one_is_refused(tmp_path: Path) -> None:
    model = FusionModel(np.arange(len(FEATURES), dtype=np.float64) / 10, trained_on="x")
    model.save(tmp_path / "fusion.json")
    loaded = FusionModel.load(tmp_path / "fusion.json")
    np.testing.assert_allclose(loaded.weights, model.weights)
    assert loaded.trained_on == "x"
    payload = json.loads((tmp_path / "fusion.json").read_text("utf-8"))
    payload["features"] = payload["features"][:-1]
    (tmp_path / "fusion.json").write_text(json.dumps(payload), "utf-8")
    with pytest.raises(ModelError, match="không khớp"):
        FusionModel.load(tmp_path / "fusion.json")


def test_the_shipped_weights_load() -> None:
    assert len(FusionModel.load().weights) == len(FEATURES)


def _groups(seed: int = 0) -> fusion_training.Groups:
    """Questions whose gold passage is the best by BM25 but not by the dense score."""
    rng = np.random.default_rng(seed)
    feats, golds = [], []
    for _ in range(40):
        dense = rng.random(8)
        bm25 = rng.random(8) * 5
        gold = np.zeros(8, bool)
        gold[int(np.argmax(bm25))] = True
        feats.append(features(candidates(dense.tolist(), bm25.tolist())))
        golds.append(gold)
    return fusion_training.stack([(feats, golds)])


def test_the_loss_gradient_matches_finite_differences() -> None:
    groups = _groups()
    w = np.random.default_rng(1).normal(size=len(FEATURES)) * 0.3
    _, grad = fusion_training._loss(w, groups)
    step = 1e-6
    for i in (0, 7, len(FEATURES) - 1):
        e = np.zeros_like(w)
        e[i] = step
        numeric = (
            fusion_training._loss(w + e, groups)[0] - fusion_training._loss(w - e, groups)[0]
        ) / (2 * step)
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-7)


def test_training_learns_to_trust_the_stage_that_finds_the_gold() -> None:
    groups = _groups()
    weights = fusion_training.fit(groups)
    ranked_first = [
        bool(groups.gold[start + int(np.argmax(groups.rows[start:end] @ weights))])
        for start, end in zip(groups.starts, [*groups.starts[1:], len(groups.rows)], strict=True)
    ]
    assert all(ranked_first)


def test_candidate_lists_hold_both_stages_ranks(pipeline: Pipeline) -> None:
    retriever = HybridRetriever(
        pipeline.data, pipeline.embedder, fusion="mix", dense_weight=0.2, candidates=5
    )
    union, c = retriever.candidate_lists("Tỷ lệ người DTTS ở Cao Bằng", 5)
    assert len(union) == len(set(union)) == len(c.dense) == len(c.bm25)
    assert sorted(c.dense_rank[c.dense_rank < 5].tolist()) == [0, 1, 2, 3, 4]
    assert c.bm25_rank.min() == 0 and len(c.idf) > 0


def test_mean_and_standard_error() -> None:
    mean, se = domains.mean_se([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5
    assert se == pytest.approx(np.std([1, 0, 1, 0], ddof=1) / 2)


def test_domain_table_over_a_small_articles_folder(pipeline: Pipeline, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    articles = pipeline.data.articles
    rows = [{"id": a.id, "title": a.title, "text": a.text} for a in articles.values()]
    (folder / "articles.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
    )
    questions = [
        {"id": "q1", "question": "Tỷ lệ người DTTS ở Cao Bằng?", "answers": ["94,88%"]},
        {
            "id": "q2",
            "question": "Ai là Trưởng Ban Dân tộc tỉnh Bắc Kạn?",
            "answers": ["Triệu Thị Thu Phương"],
        },
    ]
    (folder / "questions.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), "utf-8"
    )
    domain = domains.Domain("small", "two questions", folder, "articles")
    results = domains.run(pipeline, [domain], sample=None, default="learned", log=lambda _: None)
    table = results["sets"]["small"]
    assert table["questions"] == 2
    assert set(table["methods"]) == set(domains.methods())
    assert table["default_vs_best_mix"]["best_mix"].startswith("mix ")
    # the question vectors are kept beside the set's index for the next run
    assert list(Path(pipeline.settings.data_dir, "eval-index").glob("*/queries-*.npy"))
    text = domains.format_markdown(results)
    assert "| learned |" in text and "R@1 of learned minus the best fixed mix" in text


def test_the_default_fusion_has_its_method_name_in_the_domain_comparison() -> None:
    named = domains.methods()
    assert domains.method_of(Settings()) == "mix 0.2" and "mix 0.2" in named
    assert domains.method_of(Settings(fusion="mix", dense_weight=0.5)) == "mix 0.5"
    assert domains.method_of(Settings(fusion="learned")) == "learned"
