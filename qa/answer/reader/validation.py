"""Reader figures on a SQuAD-format validation file: EM/F1 with the gold paragraph given, and the
no-answer threshold.

Unanswerable cases are the realistic kind: the question against the paragraph of another
article that BM25 ranks first for it and that lacks its answer (as in training). The threshold is the margin that refuses
``false_refusal_target`` of the answerable questions, or one given (the weights' own, to compare
backends); both rates are reported at it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from qa.answer.reader import artifact
from qa.answer.reader.training_data import OtherArticles, squad_questions
from qa.core.protocols import SpanReader
from qa.text.matching import exact_match, token_f1
from qa.text.sentences import sentence_spans


@dataclass(frozen=True)
class Validation:
    file: str
    questions: int
    exact_match: float
    f1: float
    threshold: float
    false_refusal: float
    refusal_recall: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def read_best(reader: SpanReader, question: str, text: str) -> tuple[str, float]:
    """The best span of ``text`` and its margin (span score minus no-answer score)."""
    spans = reader.read(question, [text], [[s for s, _ in sentence_spans(text)]])
    best = max(spans, key=lambda s: s.score - s.null)
    return text[best.start : best.end], best.score - best.null


def validate(
    reader: SpanReader,
    path: Path,
    questions: int,
    seed: int,
    progress: Callable[[int], None] = lambda _n: None,
    *,
    threshold: float | None = None,
    false_refusal_target: float = 0.05,
) -> Validation:
    """``threshold``: the margin to report the refusal rates at; ``None``: the one that refuses
    ``false_refusal_target`` of the answerable questions."""
    records = list(squad_questions(path))
    items = [r for r in records if r[2].get("answers")]
    random.Random(seed).shuffle(items)
    items = items[:questions]
    others = OtherArticles(records)
    em = f1 = 0.0
    positive, negative = [], []
    for article, context, qa in items:
        golds = [a["text"] for a in qa["answers"]]
        prediction, margin = read_best(reader, qa["question"], context)
        em += exact_match(prediction, golds)
        f1 += token_f1(prediction, golds)
        positive.append(margin)
        for other in others.closest(qa["question"], article, golds):
            negative.append(read_best(reader, qa["question"], other)[1])
        progress(1)
    pos, neg = np.array(positive), np.array(negative)
    if threshold is None:
        threshold = float(np.percentile(pos, 100 * false_refusal_target))
    n = max(len(items), 1)
    return Validation(
        file=path.name,
        questions=len(items),
        exact_match=round(em / n, 4),
        f1=round(f1 / n, 4),
        threshold=round(threshold, 4),
        false_refusal=round(float(np.mean(pos < threshold)), 4),
        refusal_recall=round(float(np.mean(neg < threshold)) if len(neg) else 0.0, 4),
    )


def calibrate(
    reader: SpanReader,
    backend: str,
    directory: Path,
    manifest: artifact.ReaderManifest,
    path: Path,
    questions: int,
    seed: int,
    progress: Callable[[int], None] = lambda _n: None,
    *,
    false_refusal_target: float = 0.05,
) -> tuple[artifact.ReaderManifest, Validation]:
    """Choose ``backend``'s own threshold as training chose the weights' (the margin refusing
    ``false_refusal_target`` of the answerable validation questions) on ``reader``, the verified
    weights ``manifest`` of ``directory`` run on that backend, and record it in their
    ``reader.json`` with the figures at it."""
    report = validate(
        reader, path, questions, seed, progress, false_refusal_target=false_refusal_target
    )
    figures = {**manifest.training.get("backend_validation", {}), backend: report.as_dict()}
    updated = replace(
        manifest,
        backend_thresholds={**manifest.backend_thresholds, backend: report.threshold},
        training={**manifest.training, "backend_validation": figures},
    )
    artifact.write_manifest(updated, directory)
    return updated, report
