"""Sections 3a, 3b and 3d: search and answer latency (``bench.query_latency``), vector index
trade-offs (``bench.index_kinds``) and the FAISS and Milvus backends (``bench.milvus``), by
collection size, over collections synthesized from real text (``bench.synth``,
``bench.query_context``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import synth
from bench.corpus import Question
from bench.index_kinds import IndexKindsSection
from bench.machine import machine_info
from bench.milvus import MilvusSection
from bench.query_context import LookupQueries, Options, QueryContext, bench_dir
from bench.query_latency import LatencySection
from bench.report import Section
from qa import components
from qa.core.settings import Settings

__all__ = ["LookupQueries", "Options", "run"]


def run(
    settings: Settings,
    base: synth.Base,
    questions: list[Question],
    query_vectors: np.ndarray,
    opts: Options,
    parts: set[str],
    log: Callable[[str], None],
) -> list[Section]:
    """The chosen parts (``query``, ``indexes``, ``milvus``), each measured at every size of
    ``opts``."""
    info = machine_info()
    scratch = Path(tempfile.mkdtemp(prefix="query-", dir=bench_dir(settings)))
    spec = components.index_spec(settings)
    ctx = QueryContext(settings, base, questions, query_vectors, opts, spec, scratch, log)
    latency = LatencySection(ctx, Section("query", info))
    kinds = IndexKindsSection(ctx, Section("indexes", info))
    backends = MilvusSection(ctx, Section("milvus", info))
    try:
        for n in opts.sizes:
            if "indexes" in parts:
                kinds.measure(n)
            if "query" in parts:
                latency.measure(n)
            if "milvus" in parts:
                backends.measure(n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    latency.finish()
    kinds.finish()
    backends.finish()
    sections = (
        (latency.section, "query"),
        (kinds.section, "indexes"),
        (backends.section, "milvus"),
    )
    return [section for section, name in sections if name in parts]
