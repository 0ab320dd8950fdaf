"""Section 1: from raw files to a saved index, by stage, against plain sentence-transformers.

hoidap runs ``Pipeline.index`` (load and clean, chunk, embed, vector index, BM25, save) into a
fresh data folder each repeat. The baseline, on the very passages hoidap made, is what a plain
script does: ``SentenceTransformer.encode`` then ``faiss.IndexFlatIP.add``. Each path runs in its
own child process, so its peak RSS is its own; the model is loaded before the clock starts.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import load, passages
from bench.machine import machine_info, peak_rss_bytes
from bench.report import Section, Table, Target
from bench.stats import Spread, spread
from bench.workers import in_child
from qa import components
from qa.core.settings import DEFAULT_MODEL, Settings

STAGES = ("load_clean", "chunk", "embed", "vector_index", "keyword_index", "save")
MIB = 1024**2


@dataclass
class Runs:
    articles: int
    passages: int
    totals: list[float]
    stages: list[dict[str, float]]
    model_load: float
    peak_rss: int


def _scratch(settings: Settings) -> Path:
    root = settings.data_dir / "bench"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="ingest-", dir=root))


def hoidap_runs(settings: Settings, path: Path, repeats: int, budget_s: float) -> Runs:
    from qa.pipeline import Pipeline

    clock = time.perf_counter()
    embedder = components.embedder(settings)
    model_load = time.perf_counter() - clock
    scratch = _scratch(settings)
    totals, stages, report = [], [], None
    started = time.perf_counter()
    try:
        for i in range(max(1, repeats)):
            run_settings = settings.model_copy(update={"data_dir": scratch / str(i)})
            pipeline = Pipeline(run_settings, embedder=embedder)
            clock = time.perf_counter()
            report = pipeline.index([path])
            totals.append(time.perf_counter() - clock)
            stages.append(dict(report.seconds))
            shutil.rmtree(scratch / str(i), ignore_errors=True)
            if time.perf_counter() - started > budget_s:
                break
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert report is not None
    articles = len(report.added) + len(report.changed) + len(report.unchanged)
    return Runs(articles, report.chunks, totals, stages, model_load, peak_rss_bytes())


def baseline_runs(settings: Settings, path: Path, repeats: int, budget_s: float) -> Runs:
    import faiss
    from sentence_transformers import SentenceTransformer

    articles = load(path)
    texts = [settings.passage_prefix + a.text[s:e] for a, s, e in passages(articles, settings)]
    clock = time.perf_counter()
    model = SentenceTransformer(components.model_path(settings), device="cpu")
    model_load = time.perf_counter() - clock
    totals = []
    started = time.perf_counter()
    for _ in range(max(1, repeats)):
        clock = time.perf_counter()
        vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        totals.append(time.perf_counter() - clock)
        if time.perf_counter() - started > budget_s:
            break
    return Runs(len(articles), len(texts), totals, [], model_load, peak_rss_bytes())


def run(
    settings: Settings,
    corpora: list[tuple[str, Path]],
    *,
    repeats: int,
    budget_s: float,
    log: Callable[[str], None],
) -> Section:
    section = Section("ingest", machine_info())
    speed = section.table(
        "Throughput (whole ingest for hoidap; encode + IndexFlatIP.add for the baseline)",
        [
            "corpus · path",
            "articles",
            "passages",
            "seconds",
            "articles/s",
            "passages/s",
            "ratio vs plain",
            "peak RSS MiB",
            "model load s",
            "runs",
        ],
    )
    stages = section.table(
        "hoidap stages (seconds, from IndexReport.seconds)", ["corpus", *STAGES, "total"]
    )
    backends = _backends(settings)
    for name, path in corpora:
        log(f"ingest: {name}: plain sentence-transformers + FAISS")
        plain = in_child(baseline_runs, settings, path, repeats, budget_s / (1 + len(backends)))
        section.data[name] = {"plain": plain.__dict__}
        for backend in backends:
            log(f"ingest: {name}: hoidap, embed_backend {backend} ({repeats} runs)")
            ours = in_child(
                hoidap_runs,
                settings.model_copy(update={"embed_backend": backend}),
                path,
                repeats,
                budget_s / (1 + len(backends)),
            )
            label = f"{name} · hoidap {backend}"
            ours_s, _, ratio = _add_speed_row(speed, label, ours, plain)
            per_stage = {k: spread([run.get(k, 0.0) for run in ours.stages]) for k in STAGES}
            stages.add(label, *(per_stage[k].format(2) for k in STAGES), ours_s.format(2))
            section.data[name][backend] = {"hoidap": ours.__dict__, "ratio": ratio}
        _add_speed_row(speed, f"{name} · plain ST + FAISS flat", plain, plain)
        default = components.embed_backend(settings)
        ratio = section.data[name][default]["ratio"]
        section.targets = [  # the last corpus, the largest (dev when present), is the reference
            Target(
                f"ingest ≥ 2.5× plain sentence-transformers fp32 ({name}, default backend "
                f"{default})",
                f"{ratio:.2f}× ({plain.passages * ratio / spread(plain.totals).median:.1f} vs "
                f"{plain.passages / spread(plain.totals).median:.1f} passages/s)",
                ratio >= 2.5,
            )
        ]
    section.notes += [
        "Ratio = plain seconds / hoidap seconds on the same passages in the same run (> 1: hoidap "
        "faster). hoidap's time includes cleaning, chunking, BM25 and saving; the baseline's only "
        "encode + add.",
        f"Embedding backends {', '.join(backends)}, batch {settings.embed_batch_size}; the build "
        "orders all passages by length, and each embedder sorts a call's passages by token "
        "length before batching. The ONNX files are built before the clock starts.",
        "Peak RSS: ru_maxrss of the child process that ran the path (model included).",
    ]
    return section


def _backends(settings: Settings) -> tuple[str, ...]:
    """Every backend for the default model (its ONNX files built first), else torch."""
    if settings.model != DEFAULT_MODEL:
        return ("torch",)
    from embeddings.onnx_export import ensure_onnx_model

    ensure_onnx_model(Path(components.model_path(settings)), "onnx")
    return ("torch", "onnx", "onnx-int8")


def _add_speed_row(
    speed: Table, label: str, ours: Runs, plain: Runs
) -> tuple[Spread, Spread, float]:
    """One row of ``ours`` against the baseline; both spreads and the speed ratio."""
    ours_s, plain_s = spread(ours.totals), spread(plain.totals)
    ratio = plain_s.median / ours_s.median
    speed.add(
        label,
        ours.articles,
        ours.passages,
        ours_s.format(2),
        f"{ours.articles / ours_s.median:.1f}",
        f"{ours.passages / ours_s.median:.1f} "
        f"({ours.passages / ours_s.high:.1f}–{ours.passages / ours_s.low:.1f})",
        f"{ratio:.2f}×",
        f"{ours.peak_rss / MIB:.0f}",
        f"{ours.model_load:.1f}",
        ours_s.n,
    )
    return ours_s, plain_s, ratio
