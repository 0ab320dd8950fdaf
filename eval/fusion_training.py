"""Train the learned fusion (``qa.retrieve.fusion_model``) on questions of the training data.

Each training set is indexed like a benchmark set (its own cached data dir); for every
question the product retriever gives the union of both stages' candidates, and a listwise
softmax loss asks the passages of the gold article to score above the rest. Every set weighs
the same in the loss, whatever its size, so no one domain decides the weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from eval.domains import SHARED, cached_queries, sample_questions
from eval.external import corpus_pipeline, load_squad
from qa import components
from qa.pipeline import Pipeline
from qa.retrieve.fusion_model import FEATURES, FusionModel, features
from qa.retrieve.hybrid import HybridRetriever

L2 = 1e-3


@dataclass(frozen=True)
class TrainingSet:
    """A SQuAD file of the training data; only its first ``documents`` documents when given,
    and a fixed-seed sample of ``questions`` of their questions."""

    path: Path
    documents: int | None = None
    questions: int = 400

    @property
    def label(self) -> str:
        first = f"first {self.documents} documents, " if self.documents else ""
        return f"{self.path.stem} ({first}{self.questions} questions)"


TRAINING_SETS = (
    TrainingSet(SHARED / "train-data" / "viquad1_train.json", 20),
    TrainingSet(SHARED / "train-data" / "vinewsqa_train_partial400.json"),
    TrainingSet(SHARED / "train-data" / "nanibot_train_reg.json"),
)


@dataclass
class Groups:
    """Candidate feature rows of many questions, stacked; ``starts`` marks each question's
    first row, ``gold`` the rows of gold-article passages, ``weight`` one value per question."""

    rows: np.ndarray
    gold: np.ndarray
    starts: np.ndarray
    weight: np.ndarray


def collect(
    base: Pipeline, training: TrainingSet, log: Callable[[str], None]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Feature rows and gold masks of every question of ``training`` whose candidates hold
    both a gold and a non-gold passage (the others teach nothing)."""
    eval_set, corpus = load_squad(training.path, documents=training.documents)
    pipeline = corpus_pipeline(base, corpus, progress=True)
    questions = sample_questions(eval_set, training.questions).questions
    embedder = cached_queries(pipeline, [q.question for q in questions])
    settings = pipeline.settings.model_copy(update={"fusion": "mix"})
    retriever = components.retriever(settings, pipeline.data, embedder)
    assert isinstance(retriever, HybridRetriever)
    chunks = pipeline.data.chunks
    feats, golds = [], []
    for question in questions:
        union, candidates = retriever.candidate_lists(question.question, settings.candidates)
        gold = np.array([chunks[i].article_id in question.article_ids for i in union])
        if gold.any() and not gold.all():
            feats.append(features(candidates))
            golds.append(gold)
    log(f"{training.label}: {len(feats)} of {len(questions)} questions with gold among candidates")
    return feats, golds


def stack(per_set: Sequence[tuple[list[np.ndarray], list[np.ndarray]]]) -> Groups:
    rows, gold, sizes, weight = [], [], [], []
    for feats, golds in per_set:
        rows += feats
        gold += golds
        sizes += [len(f) for f in feats]
        weight += [1.0 / (len(feats) * len(per_set))] * len(feats)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return Groups(np.concatenate(rows), np.concatenate(gold), starts, np.asarray(weight))


def _loss(w: np.ndarray, g: Groups) -> tuple[float, np.ndarray]:
    """Weighted listwise softmax loss (-log of the gold passages' share) + L2, and its gradient."""
    s = g.rows @ w
    top = np.maximum.reduceat(s, g.starts)
    group = np.repeat(np.arange(len(g.starts)), np.diff(np.append(g.starts, len(s))))
    e = np.exp(s - top[group])
    z_all = np.add.reduceat(e, g.starts)
    z_gold = np.add.reduceat(e * g.gold, g.starts)
    loss = float(np.sum(g.weight * (np.log(z_all) - np.log(z_gold + 1e-300)))) + L2 * float(w @ w)
    p_all = e / z_all[group]
    p_gold = e * g.gold / z_gold[group]
    grad = g.rows.T @ ((p_all - p_gold) * g.weight[group]) + 2 * L2 * w
    return loss, grad


def fit(groups: Groups) -> np.ndarray:
    """Weights that minimize the loss, starting from the fixed 0.2/0.8 mix."""
    start = np.zeros(len(FEATURES))
    start[FEATURES.index("dense*bias")] = 0.2
    start[FEATURES.index("bm25*bias")] = 0.8
    found = minimize(_loss, start, args=(groups,), jac=True, method="L-BFGS-B")
    return np.asarray(found.x)


def train(base: Pipeline, sets: Sequence[TrainingSet], log: Callable[[str], None]) -> FusionModel:
    groups = stack([collect(base, s, log) for s in sets])
    weights = fit(groups)
    log(f"trained on {len(groups.starts)} questions, {len(groups.rows)} candidates")
    return FusionModel(weights, trained_on=", ".join(s.label for s in sets))
