"""Fitting the reader's learned refusal on training questions run through the product pipeline.

Each sampled answerable question of a SQuAD file is asked twice over an index of that file's
contexts: as it is (the passages hold the answer) and with its gold article removed (the
realistic unanswerable case, as ``qa eval make-unanswerable`` makes it). The reader's features
of both readings are cached to disk one question at a time, so a stopped run resumes. The
threshold is chosen on out-of-fold probabilities (folds by article) for the target false-refusal
rate; the model that ships is then fitted on every example.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.eval_set import EvalQuestion
from eval.external import corpus_pipeline, load_squad
from qa.answer.reader import artifact, refusal_model
from qa.answer.reader.answerer import ReaderAnswerer
from qa.answer.reader.refusal_features import NAMES
from qa.core.errors import InputError
from qa.pipeline import Pipeline

Bars = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class Example:
    source: str
    question_id: str
    article: str  # the fold group
    answerable: bool
    features: dict[str, float] | None  # None: the reader read nothing


@dataclass(frozen=True)
class Plan:
    train_dir: Path
    sources: tuple[str, ...]  # SQuAD files in train_dir
    questions: int  # answerable questions sampled from each source
    seed: int
    false_refusal_target: float
    folds: int
    l2: float
    work: Path
    out: Path
    features: tuple[str, ...] = ()  # of refusal_features.NAMES, the ones the model uses


def sample(questions: Sequence[EvalQuestion], n: int, seed: int) -> list[EvalQuestion]:
    """``n`` answerable questions that name their article, drawn with ``seed`` (the first
    ``n`` of one shuffle, so a larger ``n`` keeps the smaller one's questions and its cache)."""
    usable = [q for q in questions if q.answerable and q.article_ids]
    random.Random(seed).shuffle(usable)
    return usable[:n]


def collect(
    pipeline: Pipeline,
    source: str,
    questions: Sequence[EvalQuestion],
    cache: Path,
    progress: Callable[[int], None],
) -> list[Example]:
    """Both readings of every question; those already in ``cache`` (JSONL) are not redone."""
    done: dict[tuple[str, bool], Example] = {}
    if cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            e = Example(**json.loads(line))
            done[(e.question_id, e.answerable)] = e
    progress(sum((q.id, True) in done and (q.id, False) in done for q in questions))
    with cache.open("a", encoding="utf-8") as f:
        for q in questions:
            if (q.id, True) in done and (q.id, False) in done:
                continue
            for answerable in (True, False):
                removed = () if answerable else q.article_ids
                answerer = pipeline.answerer(removed)
                if not isinstance(answerer, ReaderAnswerer):
                    raise InputError(f"Cần bộ đọc để học cách từ chối: {answerer.name}.")
                hits = pipeline.search(q.question, exclude=removed)
                e = Example(
                    source,
                    q.id,
                    q.article_ids[0],
                    answerable,
                    answerer.features(q.question, hits),
                )
                done[(q.id, answerable)] = e
                f.write(json.dumps(e.__dict__, ensure_ascii=False) + "\n")
            f.flush()
            progress(1)
    return [done[(q.id, a)] for q in questions for a in (True, False)]


def matrix(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features, labels (1: answerable) and fold groups of the examples the reader read."""
    kept = [e for e in examples if e.features is not None]
    assert all(e.features is not None for e in kept)
    x = np.array([[e.features[n] for n in NAMES] for e in kept if e.features], dtype=np.float64)
    y = np.array([float(e.answerable) for e in kept])
    return x, y, [f"{e.source}/{e.article}" for e in kept]


def rates(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    """False refusals (answerable refused) and refusal recall (unanswerable refused)."""
    refused = p < threshold
    return {
        "false_refusal": round(float(refused[y == 1].mean()), 4),
        "refusal_recall": round(float(refused[y == 0].mean()), 4),
    }


def fit_examples(
    examples: Sequence[Example], plan: Plan, reader_sha: str, margin_threshold: float
) -> refusal_model.RefusalModel:
    """The refusal model of the examples, its threshold chosen out of fold, with the figures
    of the margin rule it replaces beside its own."""
    x, y, groups = matrix(examples)
    used = [NAMES.index(n) for n in plan.features]
    oof = refusal_model.out_of_fold(x[:, used], y, groups, plan.folds, plan.l2, plan.seed)
    threshold = refusal_model.threshold_for(oof[y == 1], plan.false_refusal_target)
    # what the learned refusal replaces: a name no article knows, then the margin threshold
    named = x[:, NAMES.index("unknown_name")] > 0
    margin = np.where(named, -np.inf, x[:, NAMES.index("margin")])
    per_source = {}
    sources = np.array([g.split("/", 1)[0] for g in groups])
    for source in plan.sources:
        at = sources == source
        per_source[source] = {
            "examples": int(at.sum()),
            "learned": rates(oof[at], y[at], threshold),
            "margin": rates(margin[at], y[at], margin_threshold),
        }
    mean, scale, coef, intercept = refusal_model.fit(x[:, used], y, plan.l2)
    training = {
        "sources": list(plan.sources),
        "questions_per_source": plan.questions,
        "examples": len(y),
        "unread": len(examples) - len(y),
        "seed": plan.seed,
        "l2": plan.l2,
        "folds": plan.folds,
        "false_refusal_target": plan.false_refusal_target,
        "out_of_fold": rates(oof, y, threshold),
        "unknown_name_refused": rates(np.where(named, -1.0, 1.0), y, 0.0),
        "margin_and_name_rule": rates(margin, y, margin_threshold),
        "per_source": per_source,
    }
    return refusal_model.RefusalModel(
        features=plan.features,
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(round(float(v), 6) for v in coef),
        intercept=round(intercept, 6),
        threshold=round(threshold, 6),
        reader_sha256=reader_sha,
        training=training,
    )


def train(base: Pipeline, plan: Plan, bars: Bars, say: Callable[[str], None]) -> dict[str, Any]:
    """Collect (or reuse) the examples, fit, choose the threshold, write ``refusal.json``;
    returns the training figures written with it."""
    clock = time.perf_counter()
    settings = base.settings.model_copy(update={"answerer": "reader", "reader_refusal": "margin"})
    base = Pipeline(settings, embedder=base.embedder)
    reader_sha = artifact.verify(settings.reader_weights_dir or artifact.WEIGHTS_DIR).sha256
    examples: list[Example] = []
    for source in plan.sources:
        eval_set, corpus = load_squad(plan.train_dir / source)
        questions = sample(eval_set.questions, plan.questions, plan.seed)
        key = hashlib.sha256(
            json.dumps([source, reader_sha, plan.seed, NAMES]).encode()
        ).hexdigest()[:16]
        plan.work.mkdir(parents=True, exist_ok=True)
        cache = plan.work / f"{Path(source).stem}-{key}.jsonl"
        say(f"{source}: {len(questions)} câu hỏi × 2 (có đáp án / bỏ bài gốc) -> {cache}")
        pipeline = corpus_pipeline(base, corpus, progress=True)
        examples += collect(pipeline, source, questions, cache, bars(source, len(questions)))
    manifest = artifact.read_manifest(settings.reader_weights_dir or artifact.WEIGHTS_DIR)
    model = fit_examples(examples, plan, reader_sha, manifest.threshold)
    model.training["minutes"] = round((time.perf_counter() - clock) / 60, 1)
    refusal_model.save(model, plan.out)
    return model.training
