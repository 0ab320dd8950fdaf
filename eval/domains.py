"""Retrieval over several domains: every fusion method on each set, with 1-SE error bars.

Each set is indexed into a data dir of its own (``eval.external.corpus_pipeline``) and its
question vectors are cached beside that index, so a rerun embeds nothing. Every method is the
product's ``HybridRetriever`` with other fusion settings, over the same index and vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from eval.eval_set import EvalSet, load_set
from eval.external import corpus_pipeline, load_squad
from eval.scoring import judge
from qa import components
from qa.core.protocols import Embedder
from qa.core.settings import PROJECT_ROOT, Settings
from qa.pipeline import Pipeline

SHARED = PROJECT_ROOT.parent / "shared"
METRICS = ("article_recall@1", "article_recall@5", "mrr@10", "ndcg@10", "answer_recall@5")
LABELS = {
    "article_recall@1": "R@1",
    "article_recall@5": "R@5",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "answer_recall@5": "ans@5",
}
MIX_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_DEPTH = 10
_SEED = 13


@dataclass(frozen=True)
class Domain:
    """A benchmark set: ``kind`` ``articles`` is a folder with ``questions.jsonl`` and
    ``articles.jsonl``; ``squad`` a SQuAD file whose paragraphs are the corpus."""

    name: str
    about: str
    path: Path
    kind: Literal["articles", "squad"]


DOMAINS = (
    Domain(
        "news",
        "vinewsqa-dev: 500 health-news articles, gold = the question's article",
        SHARED / "eval-data" / "vinewsqa-dev",
        "articles",
    ),
    Domain(
        "encyclopedia",
        "viquad1_test: Wikipedia paragraphs as the corpus, gold = the question's paragraph",
        SHARED / "train-data" / "viquad1_test.json",
        "squad",
    ),
    Domain(
        "regulations",
        "nanibot_test_reg: a university's study regulations (not statute law), one section "
        "per article, gold = the question's section",
        SHARED / "train-data" / "nanibot_test_reg.json",
        "squad",
    ),
)


def methods() -> dict[str, dict[str, Any]]:
    """Every fusion compared, as the settings it changes."""
    named: dict[str, dict[str, Any]] = {
        "learned": {"fusion": "learned"},
        "rrf": {"fusion": "rrf"},
        "bm25": {"fusion": "bm25"},
        "dense": {"fusion": "dense"},
    }
    for weight in MIX_WEIGHTS:
        named[f"mix {weight:.1f}"] = {"fusion": "mix", "dense_weight": weight}
    return named


def method_of(settings: Settings) -> str:
    """The name in ``methods()`` of the fusion ``settings`` configure."""
    if settings.fusion == "mix":
        return f"mix {settings.dense_weight:.1f}"
    return settings.fusion


def load_domain(base: Pipeline, domain: Domain) -> tuple[EvalSet, Pipeline]:
    """The domain's questions and a pipeline over its own (cached) index."""
    if domain.kind == "articles":
        eval_set = load_set(domain.path / "questions.jsonl")
        return eval_set, corpus_pipeline(base, domain.path / "articles.jsonl", progress=True)
    eval_set, corpus = load_squad(domain.path)
    return eval_set, corpus_pipeline(base, corpus, progress=True)


class CachedQueries:
    """An embedder whose question vectors come from a table filled once (and kept on disk)."""

    def __init__(self, embedder: Embedder, vectors: Mapping[str, np.ndarray]) -> None:
        self._embedder = embedder
        self._vectors = vectors
        self.name = embedder.name
        self.dim = embedder.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        found = self._vectors.get(text)
        return found if found is not None else self._embedder.embed_query(text)


def cached_queries(pipeline: Pipeline, questions: Sequence[str]) -> CachedQueries:
    """The pipeline's embedder with ``questions`` embedded, read from the index's data dir when
    an earlier run embedded the same questions with the same model."""
    unique = list(dict.fromkeys(questions))
    key = hashlib.sha256("\n".join([pipeline.embedder.name, *unique]).encode()).hexdigest()[:16]
    file = pipeline.settings.data_dir / f"queries-{key}.npy"
    if file.exists():
        matrix = np.load(file)
    else:
        matrix = np.stack([pipeline.embedder.embed_query(q) for q in unique]).astype(np.float32)
        np.save(file, matrix)
    return CachedQueries(pipeline.embedder, dict(zip(unique, matrix, strict=True)))


def sample_questions(eval_set: EvalSet, sample: int | None) -> EvalSet:
    """The answerable questions, or a fixed-seed sample of ``sample`` of them."""
    questions = [q for q in eval_set.questions if q.answerable]
    if sample is not None and sample < len(questions):
        questions = random.Random(_SEED).sample(questions, sample)
    return EvalSet(eval_set.name, eval_set.path, questions)


def score_method(
    pipeline: Pipeline, eval_set: EvalSet, embedder: Embedder, update: Mapping[str, Any]
) -> dict[str, list[float]]:
    """Per-question values of every metric in ``METRICS`` for one fusion setting."""
    settings = pipeline.settings.model_copy(update=dict(update))
    retriever = components.retriever(settings, pipeline.data, embedder)
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for question in eval_set.questions:
        hits = retriever.retrieve(question.question, _DEPTH)
        result = judge(question, hits, None, pipeline.data.articles, k=_DEPTH)
        for metric in METRICS:
            values[metric].append(float(result.metrics.get(metric) or 0.0))
    return values


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """The mean and its standard error (sample standard deviation / sqrt(n))."""
    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
    return float(arr.mean()), se


def run(
    base: Pipeline,
    domains: Sequence[Domain],
    *,
    sample: int | None,
    default: str,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every method on every domain; per set and method each metric's mean and SE, and the
    paired R@1 difference of ``default`` against the best fixed-weight mix of that set."""
    sets: dict[str, Any] = {}
    for domain in domains:
        eval_set, pipeline = load_domain(base, domain)
        eval_set = sample_questions(eval_set, sample)
        log(
            f"{domain.name}: {len(eval_set.questions)} questions, {len(pipeline.data.chunks)} passages"
        )
        embedder = cached_queries(pipeline, [q.question for q in eval_set.questions])
        per_method = {
            name: score_method(pipeline, eval_set, embedder, update)
            for name, update in methods().items()
        }
        sets[domain.name] = {
            "about": domain.about,
            "questions": len(eval_set.questions),
            "passages": len(pipeline.data.chunks),
            "methods": {
                name: {m: mean_se(v[m]) for m in METRICS} for name, v in per_method.items()
            },
            "default_vs_best_mix": _against_best_mix(per_method, default),
        }
        log(f"{domain.name}: done")
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": base.settings.model,
        "default": default,
        "sample": sample,
        "sets": sets,
    }


def _against_best_mix(per_method: Mapping[str, Mapping[str, list[float]]], default: str) -> dict:
    metric = METRICS[0]
    mixes = [name for name in per_method if name.startswith("mix ")]
    best = max(mixes, key=lambda name: float(np.mean(per_method[name][metric])))
    diff = np.subtract(per_method[default][metric], per_method[best][metric])
    delta, se = mean_se(diff.tolist())
    return {"best_mix": best, "delta": delta, "se": se, "in_se": delta / se if se else 0.0}


def _cell(value: tuple[float, float]) -> str:
    return f"{value[0]:.3f} ± {value[1]:.3f}"


def format_markdown(results: Mapping[str, Any]) -> str:
    lines = [
        f"Retrieval by domain ({results['model']}; top {_DEPTH}; ± is one standard error; "
        f"default fusion: {results['default']}).",
        "",
    ]
    for name, table in results["sets"].items():
        lines += [
            f"### {name}: {table['questions']} questions, {table['passages']} passages",
            "",
            table["about"],
            "",
            "| method | " + " | ".join(LABELS[m] for m in METRICS) + " |",
            "| --- |" + " ---: |" * len(METRICS),
        ]
        for method, values in table["methods"].items():
            lines.append(f"| {method} | " + " | ".join(_cell(values[m]) for m in METRICS) + " |")
        vs = table["default_vs_best_mix"]
        lines += [
            "",
            f"R@1 of {results['default']} minus the best fixed mix ({vs['best_mix']}): "
            f"{vs['delta']:+.3f} ± {vs['se']:.3f} (paired), {vs['in_se']:+.1f} SE.",
            "",
        ]
    return "\n".join(lines)


def write(results: Mapping[str, Any], out: Path) -> tuple[Path, Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_markdown(results) + "\n", "utf-8")
    json_path = out.with_suffix(".json")
    json_path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return out, json_path
