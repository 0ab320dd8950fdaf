"""The reader's learned refusal: features of a reading, the numpy logistic regression, the
threshold, the checked artifact, and the training examples collected through the pipeline
(hash embedder, scripted reader: no model)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval.external import load_squad
from eval.refusal_training import Example, Plan, collect, fit_examples, matrix
from qa import components
from qa.answer.reader import artifact, refusal_model
from qa.answer.reader.answerer import ReaderAnswerer
from qa.answer.reader.refusal_features import NAMES
from qa.answer.reader.refusal_model import RefusalModel
from qa.answer.refusal import REFUSAL
from qa.core.settings import DEFAULT_MODEL
from qa.pipeline import Pipeline
from tests.conftest import make_settings
from tests.test_reader import ScriptedReader

QUESTION = "Cao Bằng có bao nhiêu huyện biên giới?"


def _model(coef_margin: float, threshold: float, sha: str = "x") -> RefusalModel:
    """A model that looks only at the margin: P(answer) = sigmoid(coef_margin * margin)."""
    n = len(NAMES)
    coef = [0.0] * n
    coef[NAMES.index("margin")] = coef_margin
    return RefusalModel(NAMES, (0.0,) * n, (1.0,) * n, tuple(coef), 0.0, threshold, sha)


def _answerer(pipeline: Pipeline, reader: ScriptedReader, model: RefusalModel | None):
    return ReaderAnswerer(pipeline.data, reader, threshold=1.0, retrieval_weight=0.0, refusal=model)


def test_features_of_a_reading_are_every_name_and_finite(pipeline: Pipeline) -> None:
    hits = pipeline.search(QUESTION)
    values = _answerer(pipeline, ScriptedReader("7 huyện biên giới"), None).features(QUESTION, hits)
    assert values is not None and list(values) == list(NAMES)
    assert all(math.isfinite(v) for v in values.values())
    assert values["margin"] == 5.0 and values["log_span_words"] == pytest.approx(math.log(5))
    assert 0.0 < values["sentence_coverage"] <= 1.0
    assert values["unknown_name"] == 0.0
    assert _answerer(pipeline, ScriptedReader("x"), None).features(QUESTION, []) is None


def test_the_learned_refusal_decides_instead_of_the_margin(pipeline: Pipeline) -> None:
    hits = pipeline.search(QUESTION)
    reader = ScriptedReader("7 huyện biên giới", score=0.5)  # margin 0.5 < threshold 1.0
    answered = _answerer(pipeline, reader, _model(2.0, 0.5)).answer(QUESTION, hits)
    assert not answered.refused and answered.short is not None  # P = sigmoid(1.0) = 0.73
    refused = _answerer(pipeline, reader, _model(2.0, 0.9)).answer(QUESTION, hits)
    assert refused.refused and refused.text == REFUSAL and not refused.citations
    assert any("0.73 < 0.90" in note for note in refused.notes)


def test_fit_separates_and_out_of_fold_never_scores_a_seen_group() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(float)
    params = refusal_model.fit(x, y, l2=1.0)
    assert params[2][0] > 0 > params[2][1]
    p = refusal_model.predict(params, x)
    assert ((p > 0.5) == (y == 1)).mean() > 0.9
    groups = [f"a{i // 4}" for i in range(400)]
    oof = refusal_model.out_of_fold(x, y, groups, folds=5, l2=1.0, seed=1)
    assert oof.shape == (400,) and ((oof > 0.5) == (y == 1)).mean() > 0.85
    assert not np.allclose(oof, p)  # each came from a model that did not see it


def test_the_threshold_refuses_at_most_the_target_share() -> None:
    probabilities = np.linspace(0.0, 1.0, 200)
    threshold = refusal_model.threshold_for(probabilities, 0.05)
    assert (probabilities < threshold).mean() <= 0.05
    assert (probabilities <= threshold).mean() > 0.05


def test_the_artifact_round_trips_and_rejects_tampering(tmp_path: Path) -> None:
    model = _model(1.5, 0.3, sha="abc")
    refusal_model.save(model, tmp_path)
    assert refusal_model.load("abc", tmp_path) == model
    with pytest.raises(artifact.ReaderArtifactError, match="bộ đọc khác"):
        refusal_model.load("other reader", tmp_path)
    path = tmp_path / refusal_model.REFUSAL
    document = json.loads(path.read_text(encoding="utf-8"))
    document["model"]["threshold"] = 0.0
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(artifact.ReaderArtifactError, match="sha256"):
        refusal_model.load("abc", tmp_path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(artifact.ReaderArtifactError, match="hỏng"):
        refusal_model.load("abc", tmp_path)
    path.unlink()
    with pytest.raises(artifact.ReaderArtifactError, match="Thiếu"):
        refusal_model.load("abc", tmp_path)


def test_the_shipped_refusal_is_for_the_shipped_reader() -> None:
    manifest = artifact.verify()
    model = refusal_model.load(manifest.sha256)
    assert set(model.features) <= set(NAMES) and 0.0 < model.threshold < 1.0
    assert model.training["out_of_fold"]["false_refusal"] <= 0.05


def test_a_missing_refusal_falls_back_to_the_labelled_keyword_answerer(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(artifact.WEIGHTS_DIR, weights)
    (weights / refusal_model.REFUSAL).unlink()
    settings = make_settings(
        tmp_path, answerer="reader", reader_weights_dir=weights, reader_refusal="learned"
    )
    answer = components.answerer(settings, pipeline.data).answer(
        QUESTION, pipeline.search(QUESTION)
    )
    assert answer.answerer == "extractive"
    assert any("từ chối" in note for note in answer.notes)


def _squad(tmp_path: Path) -> Path:
    contexts = [
        ("Cao Bằng", "Cao Bằng có 7 huyện biên giới. Tỉnh có nhiều dân tộc.", "7 huyện"),
        ("Bắc Kạn", "Bắc Kạn có 8 đơn vị hành chính. Hội nghị họp ở Bắc Kạn.", "8 đơn vị"),
        ("Lạng Sơn", "Lạng Sơn giáp Trung Quốc. Tỉnh có 11 đơn vị hành chính.", "11 đơn vị"),
    ]
    data = [
        {
            "title": title,
            "paragraphs": [
                {
                    "context": text,
                    "qas": [
                        {
                            "id": f"q{k}",
                            "question": f"{title} có bao nhiêu đơn vị?",
                            "answers": [{"text": answer, "answer_start": text.index(answer)}],
                            "is_impossible": False,
                        }
                    ],
                }
            ],
        }
        for k, (title, text, answer) in enumerate(contexts)
    ]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    return path


def test_collect_reads_each_question_with_and_without_its_article_and_resumes(
    tmp_path: Path,
) -> None:
    from embeddings.hashing import HashEmbedder
    from eval.external import corpus_pipeline

    eval_set, corpus = load_squad(_squad(tmp_path))
    base = Pipeline(make_settings(tmp_path / "data"), embedder=HashEmbedder())
    built = corpus_pipeline(base, corpus)
    reader = ScriptedReader("đơn vị")
    seen: list[list[str]] = []
    answerer = ReaderAnswerer(built.data, reader, threshold=1.0, retrieval_weight=0.0, refusal=None)
    pipeline = Pipeline(built.settings, embedder=built.embedder, answerer=answerer)
    original = pipeline.search

    def search(question: str, k: int | None = None, exclude: tuple[str, ...] = ()) -> list:
        hits = original(question, k, exclude)
        seen.append([h.chunk.article_id for h in hits])
        assert not set(exclude) & set(seen[-1])
        return hits

    pipeline.search = search  # type: ignore[method-assign]
    cache = tmp_path / "cache.jsonl"
    examples = collect(pipeline, "tiny.json", eval_set.questions, cache, lambda n: None)
    assert [e.answerable for e in examples] == [True, False] * 3
    gone = [s for s, e in zip(seen, examples, strict=True) if not e.answerable]
    own = [q.article_ids[0] for q in eval_set.questions]
    assert all(a not in s for a, s in zip(own, gone, strict=True))
    x, y, groups = matrix(examples)
    assert x.shape == (6, len(NAMES)) and y.tolist() == [1.0, 0.0] * 3
    assert len(set(groups)) == 3
    calls = len(reader.calls)
    again = collect(pipeline, "tiny.json", eval_set.questions, cache, lambda n: None)
    assert again == examples and len(reader.calls) == calls  # read from the cache


def test_fit_examples_keeps_false_refusals_to_the_target_with_the_chosen_features(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    examples = []
    for k in range(300):
        for answerable in (True, False):
            values = {n: float(rng.normal()) for n in NAMES}
            values["margin"] = float(rng.normal(2.0 if answerable else -1.0))
            values["unknown_name"] = float(not answerable and k % 10 == 0)
            source = "a.json" if k % 2 else "b.json"
            examples.append(Example(source, f"q{k}", f"art{k // 3}", answerable, values))
    plan = Plan(
        train_dir=tmp_path,
        sources=("a.json", "b.json"),
        questions=150,
        seed=1,
        false_refusal_target=0.05,
        folds=5,
        l2=1.0,
        work=tmp_path,
        out=tmp_path,
        features=("margin", "unknown_name", "dense_top"),
    )
    model = fit_examples(examples, plan, "sha", margin_threshold=0.0)
    figures = model.training
    assert figures["out_of_fold"]["false_refusal"] <= 0.05
    assert (
        figures["out_of_fold"]["refusal_recall"] > figures["unknown_name_refused"]["refusal_recall"]
    )
    assert figures["unknown_name_refused"]["refusal_recall"] == pytest.approx(0.1)
    assert set(figures["per_source"]) == {"a.json", "b.json"}
    assert model.features == plan.features and len(model.coef) == 3
    assert model.coef[0] > 0 > model.coef[1]  # a wide margin answers, an unknown name refuses
    refusal_model.save(model, tmp_path)
    assert refusal_model.load("sha", tmp_path) == model


def test_an_unknown_name_is_a_feature_of_the_learned_refusal_and_a_rule_of_the_margin(
    pipeline: Pipeline,
) -> None:
    question = "Cao Bằng có bao nhiêu huyện biên giới theo Zorgan Quelby?"
    hits = pipeline.search(question)
    reader = ScriptedReader("7 huyện biên giới")
    margin = _answerer(pipeline, reader, None).answer(question, hits)
    assert margin.refused and any("Zorgan Quelby" in note for note in margin.notes)
    values = _answerer(pipeline, reader, None).features(question, hits)
    assert values is not None and values["unknown_name"] == 1.0
    assert not _answerer(pipeline, reader, _model(2.0, 0.5)).answer(question, hits).refused


def test_the_learned_refusal_is_used_with_the_model_and_backend_it_was_fitted_on_only(
    tmp_path: Path,
) -> None:
    # its features include the default model's dense scores, on another scale than the hash
    # embedder's: there hoidap refuses on the reader's margin (the file is still checked)
    sha = artifact.verify().sha256
    weights = artifact.WEIGHTS_DIR
    hashed = make_settings(tmp_path, model="hash:64", reader_refusal="learned")
    assert components.learned_refusal(hashed, sha, weights) is None
    default = make_settings(tmp_path, model=DEFAULT_MODEL, reader_refusal="learned")
    assert components.learned_refusal(default, sha, weights) == refusal_model.load(sha)
    margin = make_settings(tmp_path, model=DEFAULT_MODEL, reader_refusal="margin")
    assert components.learned_refusal(margin, sha, weights) is None
    # fitted on fp32 margins: the int8 reader refuses at its own calibrated margin
    int8 = make_settings(tmp_path, model=DEFAULT_MODEL, reader_backend="onnx-int8")
    assert components.learned_refusal(int8, sha, weights) is None
