"""Vector indexes for large collections: built with the library, measured for memory and disk."""

from __future__ import annotations

import dataclasses
import gc
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from bench.machine import rss_bytes
from qa.index.dense import FaissIndex, IndexSpec, ivf_lists

KINDS = ("flat", "hnsw", "ivf-sq8", "ivf-pq")
HNSW_PROBE = 20_000


@dataclass
class Built:
    index: FaissIndex
    kind: str
    seconds: float
    rss_delta: int
    disk: int
    note: str = ""


def spec_for(base: IndexSpec, kind: str) -> IndexSpec:
    if kind.startswith("ivf-"):
        return dataclasses.replace(base, kind="ivf", ivf_codec=kind[4:])  # type: ignore[arg-type]
    return dataclasses.replace(base, kind=kind)  # type: ignore[arg-type]


def build(vectors: np.ndarray, kind: str, base: IndexSpec, scratch: Path) -> Built:
    gc.collect()
    before = rss_bytes()
    clock = time.perf_counter()
    spec = spec_for(base, kind)
    index = FaissIndex.build(vectors, spec)
    note = ""
    if spec.kind == "ivf":
        lists = ivf_lists(len(vectors))
        note = f"IVF{lists}, nprobe {spec.nprobe(lists)}"
    seconds = time.perf_counter() - clock
    gc.collect()
    delta = rss_bytes() - before
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        path = Path(tmp) / "dense.faiss"
        index.save(path)
        disk = path.stat().st_size
    return Built(index, kind, seconds, delta, disk, note)


def hnsw_estimate(vectors: np.ndarray, base: IndexSpec) -> float:
    """Seconds an HNSW build of all ``vectors`` should take, from a build on the first 20k."""
    n = len(vectors)
    probe = min(n, HNSW_PROBE)
    clock = time.perf_counter()
    FaissIndex.build(vectors[:probe], spec_for(base, "hnsw"))
    seconds = time.perf_counter() - clock
    return seconds * (n / probe) * (math.log(n) / math.log(probe))


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 100_000) -> np.ndarray:
    """Row ids of the exact top ``k`` inner products of each query (what a flat index returns)."""
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start : start + block].T
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argpartition(-all_scores, min(k, all_scores.shape[1] - 1), axis=1)[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_ids = np.take_along_axis(all_ids, keep, axis=1)
    return best_ids


@contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """FAISS with ``n`` OpenMP threads inside the block (its default: one per core)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def recall_at(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    hits = [
        len(set(f[:k].tolist()) & set(t[:k].tolist())) / k
        for f, t in zip(found, truth, strict=False)
    ]
    return float(np.mean(hits)) if hits else 0.0
