"""Section 3d: the two index backends side by side on the same synthetic collections: FAISS and
BM25 in this process, and a Milvus collection on a milvus-lite server in a child process.

Each backend builds the same passages (``bench.synth``: real Vietnamese text and embeddings,
mixed) through its ``IndexBackend.build``, and hoidap's own hybrid retriever searches it with
each question's precomputed real embedding (query encoding is in the backends section).
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import synth
from bench.load import free_port
from bench.machine import rss_bytes
from bench.query_context import MIB, LookupQueries, QueryContext, index_data, ms
from bench.report import Section
from bench.stats import latencies, percentiles
from qa import components
from qa.core.index_data import IndexData
from qa.core.protocols import DocumentTerms
from qa.core.settings import Settings
from qa.index.milvus import MilvusBackend, MilvusVectorIndex

_CHANGED_EVERY = 100
LARGEST = 100_000  # a milvus-lite build past this takes longer than a bench run should
_COLUMNS = [
    "passages · backend",
    "dense index",
    "build s",
    "hoidap RSS MiB",
    "server RSS MiB",
    "search p50 ms",
    "search p95 ms",
    "dense-only p50 ms",
    "BM25-only p50 ms",
    "same top 5 as FAISS",
    "questions",
]


class LiteServer:
    """``python -m milvus_lite server`` in a child process, so its memory is its own; it can be
    stopped and started again on the same port and data (the tests take it down and back)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiteServer:
        command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir)]
        self._process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the milvus-lite server did not start within 60 s")

    def rss_bytes(self) -> int:
        if self._process is None:
            return 0
        pages = int(Path(f"/proc/{self._process.pid}/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None


class MilvusSection:
    """The ``milvus`` section: one row per collection size and backend."""

    def __init__(self, ctx: QueryContext, section: Section) -> None:
        self.ctx = ctx
        self.section = section
        settings = ctx.settings
        self.table = section.table(
            "Per backend: IndexBackend.build time, memory, and HybridRetriever.retrieve latency "
            f"(top {settings.top_k}, fusion {settings.fusion}, {settings.candidates} candidates "
            "per stage)",
            _COLUMNS,
        )
        self.updates = section.table(
            f"Milvus update in place: 1 passage in {_CHANGED_EVERY} changed (new keys), "
            "the rest kept",
            ["passages", "full build s", "rows written", "write s", "publish (delete) s"],
        )
        vectors = dict(zip((q.question for q in ctx.questions), ctx.query_vectors, strict=True))
        self.embedder = LookupQueries(f"lookup:{ctx.base.dim}", vectors)

    def measure(self, n: int) -> None:
        ctx = self.ctx
        if n > LARGEST:
            self.section.notes.append(f"{n:,}: not measured (this section stops at {LARGEST:,}).")
            return
        ctx.log(f"milvus: {n:,} passages: synthesizing")
        plan = synth.Plan.make(ctx.base, n)
        texts, terms, titles = synth.texts_and_terms(ctx.base, plan)
        vectors = synth.vectors(ctx.base, plan)
        qs = [q.question for q in ctx.questions[: ctx.opts.queries]]
        server = LiteServer(ctx.scratch / f"milvus-{n}").start()
        try:
            faiss_top: list[list[int]] = []
            for name in ("faiss", "milvus"):
                settings = ctx.settings.model_copy(
                    update={
                        "index_backend": name,
                        "milvus_uri": server.uri,
                        "milvus_collection": f"bench{n}",
                        "milvus_timeout": 600.0,
                    }
                )
                backend = components.index_backend(settings)
                ctx.log(f"milvus: {n:,} · {name}: building")
                gc.collect()
                before, server_before = rss_bytes(), server.rss_bytes()
                clock = time.perf_counter()
                dense, keywords = backend.build(
                    vectors,
                    terms,
                    keys=np.arange(len(vectors), dtype=np.int64),
                    previous=None,
                    k1=settings.bm25_k1,
                    b=settings.bm25_b,
                )
                build_s = time.perf_counter() - clock
                gc.collect()
                grew, server_grew = rss_bytes() - before, server.rss_bytes() - server_before
                data = index_data(texts, titles, keywords, vectors, dense, ctx.base, settings)
                ctx.log(f"milvus: {n:,} · {name}: timing {len(qs)} questions")
                row = self._search(settings, data, qs, faiss_top)
                self.table.add(
                    f"{n:,} · {name}",
                    dense.kind,
                    f"{build_s:.1f}",
                    f"{grew / MIB:,.0f}",
                    f"{server_grew / MIB:,.0f}" if name == "milvus" else "—",
                    *row["cells"],
                )
                self.section.data[f"{n}/{name}"] = {
                    "build_s": build_s,
                    "rss": grew,
                    "server_rss": server_grew if name == "milvus" else None,
                    **row["data"],
                }
                if isinstance(backend, MilvusBackend) and isinstance(dense, MilvusVectorIndex):
                    self._update(n, backend, dense, vectors, terms, settings, build_s)
                del dense, keywords, data
        finally:
            server.stop()

    def _update(
        self,
        n: int,
        backend: MilvusBackend,
        dense: MilvusVectorIndex,
        vectors: np.ndarray,
        terms: Sequence[DocumentTerms],
        settings: Settings,
        build_s: float,
    ) -> None:
        """Time an update in place of the collection just built, then its publishing."""
        before, after = (self.ctx.scratch / f"milvus-update-{n}" / d for d in ("a", "b"))
        for folder in (before, after):
            folder.mkdir(parents=True)
        dense.save(before / backend.dense_file)
        keys = dense.collection.keys.copy()
        keys[::_CHANGED_EVERY] += n  # as if those passages' articles had changed
        self.ctx.log(f"milvus: {n:,}: updating in place")
        clock = time.perf_counter()
        updated, _ = backend.build(
            vectors, terms, keys=keys, previous=before, k1=settings.bm25_k1, b=settings.bm25_b
        )
        write_s = time.perf_counter() - clock
        written = updated.collection.stored - n
        updated.save(after / backend.dense_file)
        clock = time.perf_counter()
        backend.published(after)
        publish_s = time.perf_counter() - clock
        if updated.collection.name != dense.collection.name or written != len(
            keys[::_CHANGED_EVERY]
        ):
            raise RuntimeError("the collection was not updated in place")
        if backend.connection.count(updated.collection.name) != n:
            raise RuntimeError("publishing left rows the build does not own")
        self.updates.add(
            f"{n:,}", f"{build_s:.1f}", f"{written:,}", f"{write_s:.2f}", f"{publish_s:.2f}"
        )
        self.section.data[f"{n}/milvus_update"] = {
            "rows_written": written,
            "write_s": write_s,
            "publish_s": publish_s,
        }

    def _search(
        self, settings: Settings, data: IndexData, qs: list[str], faiss_top: list[list[int]]
    ) -> dict[str, Any]:
        budget, k = self.ctx.opts.budget_s, settings.top_k

        def timed(fusion: str, keep: Callable[[list[int]], None] | None = None) -> dict[str, float]:
            retriever = components.retriever(
                settings.model_copy(update={"fusion": fusion}), data, self.embedder
            )
            retriever.retrieve(qs[0], k)  # warm-up

            def one(i: int) -> None:
                ids = [h.chunk.id for h in retriever.retrieve(qs[i], k)]
                if keep is not None:
                    keep(ids)

            return percentiles(latencies(one, len(qs), budget))

        tops: list[list[int]] = []
        hybrid = timed(settings.fusion, tops.append)
        dense, bm25 = timed("dense"), timed("bm25")
        if not faiss_top:
            faiss_top += tops
            same = "—"
            agree = None
        else:
            pairs = list(zip(tops, faiss_top, strict=False))
            agree = sum(a == b for a, b in pairs) / len(pairs)
            same = f"{agree:.3f}"
        return {
            "cells": [
                ms(hybrid, "p50"),
                ms(hybrid, "p95"),
                ms(dense, "p50"),
                ms(bm25, "p50"),
                same,
                len(tops),
            ],
            "data": {"search": hybrid, "dense": dense, "bm25": bm25, "same_top": agree},
        }

    def finish(self) -> None:
        self.section.notes += [
            "Both backends build the same collection (bench/synth.py: the dev benchmark's real "
            "passages, then passages mixing two real ones) with the same dense index kind "
            "(HOIDAP_INDEX_KIND, auto: flat below HOIDAP_APPROX_THRESHOLD, IVF above).",
            "milvus: hoidap's MilvusBackend against `python -m milvus_lite server` on "
            "127.0.0.1 in a child process (a gRPC hop per call). hoidap RSS is the growth of "
            "this process during the build (FAISS: the dense index and BM25 postings; milvus: "
            "the client side only); server RSS is the growth of the milvus-lite process. "
            "milvus-lite 3.x is a Python implementation of Milvus for tests and one machine: "
            "its figures say nothing about a Milvus server or cluster's speed.",
            "Same top 5 as FAISS: share of questions whose hybrid top 5 (chunk ids, in order) "
            "equals the FAISS backend's.",
            "The retriever's embedder returns each question's precomputed real embedding.",
        ]
