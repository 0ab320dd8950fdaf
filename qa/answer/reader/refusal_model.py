"""The learned refusal: logistic regression over ``refusal_features``, in numpy.

It gives the probability that the retrieved passages answer the question; hoidap refuses below
``threshold``, chosen on held-out training questions for a target false-refusal rate. Stored
as ``weights/refusal.json``: the standardisation, coefficients and threshold, the sha256 of the
reader weights whose scores it was fitted on, and the sha256 of all that, checked on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.reader.artifact import WEIGHTS_DIR, ReaderArtifactError
from qa.answer.reader.refusal_features import NAMES

REFUSAL = "refusal.json"
FORMAT_VERSION = 1
_NEWTON_STEPS = 50


@dataclass(frozen=True)
class RefusalModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # refuse when the probability of an answer is below it
    reader_sha256: str  # the reader weights whose scores the features came from
    training: dict[str, Any] = field(default_factory=dict)

    def probability(self, values: Mapping[str, float]) -> float:
        """The probability that the passages hold the answer."""
        x = (np.array([values[n] for n in self.features]) - self.mean) / np.array(self.scale)
        return float(_sigmoid(float(x @ np.array(self.coef)) + self.intercept))

    def refuses(self, values: Mapping[str, float]) -> tuple[bool, float]:
        p = self.probability(values)
        return p < self.threshold, p


def fit(
    x: np.ndarray, y: np.ndarray, l2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, coefficients, intercept) of an L2-regularised logistic regression on
    standardised features (Newton's method; the intercept is not penalised)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(_NEWTON_STEPS):
        p = _sigmoid(z @ w)
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])


def predict(params: tuple[np.ndarray, np.ndarray, np.ndarray, float], x: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = params
    return _sigmoid(((x - mean) / scale) @ coef + intercept)


def out_of_fold(
    x: np.ndarray, y: np.ndarray, groups: Sequence[str], folds: int, l2: float, seed: int
) -> np.ndarray:
    """Each example's probability from a model fitted without its group's fold (groups are
    articles, so a question is never scored by a model that saw its article)."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: k % folds for k, i in enumerate(order)}
    fold = np.array([fold_of[g] for g in groups])
    out = np.zeros(len(x))
    for k in range(folds):
        held = fold == k
        out[held] = predict(fit(x[~held], y[~held], l2), x[held])
    return out


def threshold_for(answerable: np.ndarray, target: float) -> float:
    """The threshold that refuses at most ``target`` of these answerable probabilities."""
    ranked = np.sort(answerable)
    n = int(np.floor(target * len(ranked)))
    return float(ranked[n]) if n < len(ranked) else 1.0


def save(model: RefusalModel, directory: Path = WEIGHTS_DIR) -> Path:
    body = asdict(model)
    path = directory / REFUSAL
    document = {"format_version": FORMAT_VERSION, "model": body, "sha256": _digest(body)}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load(reader_sha256: str, directory: Path = WEIGHTS_DIR) -> RefusalModel:
    """The refusal model of ``directory``, checked: intact, for these features and for the
    reader weights with ``reader_sha256``."""
    path = directory / REFUSAL
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        body = document["model"]
        stored = document["sha256"]
        version = document["format_version"]
    except FileNotFoundError as exc:
        raise ReaderArtifactError(f"Thiếu mô hình từ chối {path}.") from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ReaderArtifactError(f"Mô hình từ chối {path} hỏng: {exc}") from exc
    if version != FORMAT_VERSION:
        raise ReaderArtifactError(f"Mô hình từ chối {path} có định dạng {version}.")
    if _digest(body) != stored:
        raise ReaderArtifactError(f"Mô hình từ chối {path} không khớp sha256 (tệp bị sửa).")
    try:
        model = RefusalModel(**{**body, **{k: tuple(body[k]) for k in _VECTORS}})
    except (TypeError, KeyError) as exc:
        raise ReaderArtifactError(f"Mô hình từ chối {path} hỏng: {exc}") from exc
    if not set(model.features) <= set(NAMES) or not all(
        len(getattr(model, k)) == len(model.features) for k in _VECTORS
    ):
        raise ReaderArtifactError(
            f"Mô hình từ chối {path} dùng đặc trưng khác; hãy huấn luyện lại."
        )
    if model.reader_sha256 != reader_sha256:
        raise ReaderArtifactError(
            f"Mô hình từ chối {path} được huấn luyện cho trọng số bộ đọc khác; hãy huấn luyện lại."
        )
    return model


_VECTORS = ("features", "mean", "scale", "coef")


def _digest(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
