"""Summaries of repeated measurements: the median with min–max, and latency percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eval.metrics import percentile


@dataclass(frozen=True)
class Spread:
    """The median of repeated runs and their range."""

    median: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 1, scale: float = 1.0) -> str:
        m, lo, hi = (v * scale for v in (self.median, self.low, self.high))
        if self.n == 1:
            return f"{m:.{digits}f}"
        return f"{m:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("spread needs at least one value")
    arr = np.asarray(values, dtype=np.float64)
    return Spread(float(np.median(arr)), float(arr.min()), float(arr.max()), len(arr))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` by linear interpolation."""
    if not values:
        raise ValueError("percentiles need at least one value")
    return {f"p{q:g}": float(percentile(values, q)) for q in qs}  # type: ignore[arg-type]


def latencies(fn: Callable[[int], object], count: int, budget_s: float) -> list[float]:
    """Seconds of ``fn(i)`` for i in 0..count-1, stopping early once ``budget_s`` is spent."""
    seconds: list[float] = []
    start = time.perf_counter()
    for i in range(count):
        clock = time.perf_counter()
        fn(i)
        seconds.append(time.perf_counter() - clock)
        if time.perf_counter() - start > budget_s:
            break
    return seconds


def repeat(fn: Callable[[], float], repeats: int, budget_s: float) -> list[float]:
    """Values of ``fn()`` (one measurement each) ``repeats`` times, at least once, fewer when
    ``budget_s`` is spent."""
    values: list[float] = []
    start = time.perf_counter()
    for _ in range(max(1, repeats)):
        values.append(fn())
        if time.perf_counter() - start > budget_s:
            break
    return values
