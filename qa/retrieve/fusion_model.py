"""The learned fusion: a linear scorer over features of both stages' candidate lists.

Each candidate gets its normalized dense and BM25 scores and ranks; both normalized scores are
also multiplied by features of the query and its two lists (how many terms it has, how rare
they are, how far the best candidate of each list stands out, how much the lists agree), so the
weight of each stage changes from question to question without a per-corpus setting. Every
feature is free of the scale of either score, so the weights carry across corpora.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.core.errors import ModelError

FORMAT = 1
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "fusion.json"
_AGREE_TOP = 10
_EPS = 1e-9
# query features that scale each stage's normalized score
QUERY_FEATURES = ("bias", "terms", "rarity", "dense_gap", "bm25_gap", "bm25_strength", "agree")
FEATURES = (
    *(f"dense*{q}" for q in QUERY_FEATURES),
    *(f"bm25*{q}" for q in QUERY_FEATURES),
    "dense_z",
    "bm25_z",
    "dense_rank",
    "bm25_rank",
    "dense*bm25",
)


@dataclass(frozen=True)
class Candidates:
    """The union of both stages' candidates for one question.

    ``dense_rank``/``bm25_rank`` are 0-based ranks in each stage's list, ``pool`` where the stage
    did not return the candidate; ``idf`` is the BM25 idf of each query term."""

    dense: np.ndarray
    bm25: np.ndarray
    dense_rank: np.ndarray
    bm25_rank: np.ndarray
    idf: np.ndarray
    pool: int
    passages: int


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < _EPS:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


def _zscore(values: np.ndarray) -> np.ndarray:
    std = float(values.std())
    return (values - values.mean()) / std if std > _EPS else np.zeros_like(values)


def _gap(values: np.ndarray) -> float:
    """How far the best value stands above the second, as a share of the list's spread."""
    if len(values) < 2:
        return 1.0
    top2 = np.sort(values)[-2:]
    spread = float(top2[1] - values.min())
    return float(top2[1] - top2[0]) / spread if spread > _EPS else 0.0


def query_features(c: Candidates) -> np.ndarray:
    """One value per name in ``QUERY_FEATURES``."""
    n_terms = len(c.idf)
    rarity = float(c.idf.mean() / np.log1p(c.passages)) if n_terms else 0.0
    strength = float(c.bm25.max() / c.idf.sum()) if n_terms and c.idf.sum() > 0 else 0.0
    agree = float(np.sum((c.dense_rank < _AGREE_TOP) & (c.bm25_rank < _AGREE_TOP))) / _AGREE_TOP
    return np.array(
        [1.0, np.log1p(n_terms), rarity, _gap(c.dense), _gap(c.bm25), strength, agree],
        dtype=np.float64,
    )


def features(c: Candidates) -> np.ndarray:
    """Candidates x ``FEATURES``."""
    dense, bm25 = _minmax(c.dense.astype(np.float64)), _minmax(c.bm25.astype(np.float64))
    q = query_features(c)
    scale = np.log1p(c.pool)
    columns = [
        *(dense * v for v in q),
        *(bm25 * v for v in q),
        _zscore(c.dense.astype(np.float64)),
        _zscore(c.bm25.astype(np.float64)),
        1.0 - np.log1p(c.dense_rank) / scale,
        1.0 - np.log1p(c.bm25_rank) / scale,
        dense * bm25,
    ]
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class FusionModel:
    """Linear weights over ``FEATURES``; a candidate's fused score is their dot product."""

    weights: np.ndarray
    trained_on: str = ""

    def score(self, candidates: Candidates) -> np.ndarray:
        return (features(candidates) @ self.weights).astype(np.float32)

    def save(self, path: Path) -> None:
        payload = {
            "format": FORMAT,
            "features": list(FEATURES),
            "weights": [round(float(w), 6) for w in self.weights],
            "trained_on": self.trained_on,
        }
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", "utf-8")

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> FusionModel:
        try:
            payload = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: không đọc được trọng số kết hợp ({exc})") from exc
        if payload.get("format") != FORMAT or payload.get("features") != list(FEATURES):
            raise ModelError(f"{path}: trọng số kết hợp không khớp với các đặc trưng của bản này")
        return cls(np.asarray(payload["weights"], dtype=np.float64), payload.get("trained_on", ""))
