"""Section 3b: vector index trade-offs by kind and collection size (build time, memory, disk,
recall@10 against exact search, latency) on synthetic vectors (``bench.query_context``)."""

from __future__ import annotations

import gc

import numpy as np

from bench import indexes, synth
from bench.query_context import MIB, QueryContext, ms, too_big
from bench.report import Section, Target
from bench.stats import latencies, percentiles

_COLUMNS = [
    "passages · index",
    "build s",
    "RSS bytes/passage",
    "disk bytes/passage",
    "recall@10 vs flat",
    "search p50 ms",
    "search p95 ms",
    "p50 ms, 1 FAISS thread",
    "note",
]


class IndexKindsSection:
    """The ``indexes`` section: one row per collection size and index kind."""

    def __init__(self, ctx: QueryContext, section: Section) -> None:
        self.ctx = ctx
        self.section = section
        self.table = section.table(
            "Per index kind: build time, memory and disk per passage, recall@10 against exact "
            f"(flat) search on {len(ctx.questions)} real dev-question embeddings, single-query "
            "latency",
            _COLUMNS,
        )

    def measure(self, n: int) -> None:
        ctx = self.ctx
        skip = too_big(n, "indexes")
        if skip:
            self.section.notes.append(skip)
            return
        ctx.log(f"indexes: {n:,} passages")
        vectors = synth.vectors(ctx.base, synth.Plan.make(ctx.base, n))
        truth = indexes.exact_top(vectors, ctx.query_vectors, 10)
        for kind in ctx.opts.kinds:
            if not self._over_budget(n, kind, vectors):
                self._measure_kind(n, kind, vectors, truth)
                gc.collect()
        del vectors

    def _over_budget(self, n: int, kind: str, vectors: np.ndarray) -> bool:
        """HNSW past the probe size is skipped (with a row saying so) when its build is
        estimated over the budget."""
        opts = self.ctx.opts
        if kind != "hnsw" or n <= indexes.HNSW_PROBE:
            return False
        estimate = indexes.hnsw_estimate(vectors, self.ctx.spec)
        if estimate <= opts.hnsw_budget_s:
            return False
        self.table.add(
            f"{n:,} · hnsw",
            *["—"] * 7,
            f"skipped: build estimated at {estimate:.0f} s (20k probe) > "
            f"{opts.hnsw_budget_s:.0f} s budget",
        )
        return True

    def _measure_kind(self, n: int, kind: str, vectors: np.ndarray, truth: np.ndarray) -> None:
        ctx, queries = self.ctx, self.ctx.query_vectors
        ctx.log(f"indexes: {n:,} · {kind}")
        try:
            built = indexes.build(vectors, kind, ctx.spec, ctx.scratch)
        except RuntimeError as exc:  # FAISS refuses, e.g. PQ with fewer than 256 vectors
            reason = str(exc).splitlines()[-1].split("failed: ")[-1][:120]
            self.table.add(f"{n:,} · {kind}", *["—"] * 7, f"build failed: {reason}")
            return
        found: list[np.ndarray] = []
        seconds = latencies(
            lambda i: found.append(built.index.search(queries[i], 10)[1]),
            len(queries),
            ctx.opts.budget_s,
        )
        recall = indexes.recall_at(found, truth, 10)
        p = percentiles(seconds)
        with indexes.faiss_threads(1):
            one = percentiles(
                latencies(
                    lambda i: built.index.search(queries[i], 10),
                    len(queries),
                    ctx.opts.budget_s / 2,
                )
            )
        self.table.add(
            f"{n:,} · {kind}",
            f"{built.seconds:.1f}",
            f"{built.rss_delta / n:,.0f}",
            f"{built.disk / n:,.0f}",
            f"{recall:.3f}",
            ms(p, "p50"),
            ms(p, "p95"),
            ms(one, "p50"),
            built.note + (f" ({len(seconds)} queries)" if len(seconds) < len(queries) else ""),
        )
        self.section.data[f"{n}/{kind}"] = {
            "build_s": built.seconds,
            "rss": built.rss_delta,
            "disk": built.disk,
            "recall10": recall,
            **p,
            "p50_one_thread": one["p50"],
        }
        if n >= 1_000_000 and kind != "flat":
            ram = built.rss_delta / MIB
            self.section.targets.append(
                Target(
                    f"1M passages, {kind}: ≤ 1 GB dense index RAM, recall@10 vs flat ≥ 0.95",
                    f"{ram:,.0f} MiB, recall {recall:.3f}",
                    ram <= 1024 and recall >= 0.95,
                )
            )

    def finish(self) -> None:
        settings, base = self.ctx.settings, self.ctx.base
        self.section.notes += [
            "Recall@10 vs flat: share of the exact top 10 (inner product over all vectors) that "
            "the index returns; queries are the real embeddings of dev questions.",
            "RSS bytes/passage: growth of the process while the index was built and held "
            "(float32 vectors alone are 1,536 bytes at 384 dimensions); disk: faiss write_index "
            "size.",
            f"Settings: HNSW M={settings.hnsw_m}, efSearch={settings.hnsw_ef_search}; "
            "IVF: ~4·√n lists trained on 50 sampled vectors per list, nprobe "
            + (str(settings.ivf_nprobe) if settings.ivf_nprobe else "≈ 3·√lists (auto)")
            + ".",
            f"The synthetic vectors are mixtures of the {len(base.passages):,} real passage "
            "embeddings, so at 1M there are hundreds of near-ties around every real passage: "
            "harder for HNSW's bounded search (efSearch) than for IVF's list scans; recall on a "
            "real collection of that size may differ.",
        ]
