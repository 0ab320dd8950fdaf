"""`qa bench`: run the benchmark sections, print the Markdown report and write it with its JSON.

Registered lazily on the `qa` command (``qa.cli``); settings
come from ``ctx.obj["settings"]`` (``python -m bench`` builds default ones).
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import click

from bench import report
from bench.corpus import (
    BUNDLED,
    default_dev_articles,
    load,
    load_questions,
    questions_beside,
    subset,
)
from qa.core.protocols import Embedder
from qa.core.settings import PROJECT_ROOT, Settings

SECTIONS = report.ORDER
DEFAULT_OUT = PROJECT_ROOT / "bench" / "results" / "latest.md"
FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)


@dataclass
class Plan:
    """What one run does; ``--quick`` picks small values for everything."""

    sections: tuple[str, ...]
    sizes: tuple[int, ...]
    repeats: int
    questions: int
    budget_s: float
    quick: bool
    dev_articles: Path | None
    dev_questions: Path | None
    hash_embedder: bool = False
    kinds: tuple[str, ...] = ()
    ingest_articles: int = 0


def _csv(value: str | None, kind: type = str) -> tuple:
    if not value:
        return ()
    try:
        return tuple(kind(v.strip().replace("_", "")) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise click.BadParameter(f"expected a comma-separated list, got {value!r}") from exc


class _Log:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.perf_counter() - self.start:6.0f} s] {message}", err=True)


def _embedder(settings: Settings, plan: Plan) -> Embedder:
    if plan.hash_embedder:
        from embeddings.hashing import HashEmbedder

        return HashEmbedder()
    from qa import components

    return components.embedder(settings)


def run(settings: Settings, plan: Plan, log: Callable[[str], None]) -> list[report.Section]:
    """Every chosen section, in report order."""
    sections: list[report.Section] = []
    dev = plan.dev_articles
    if "ingest" in plan.sections:
        from bench import ingest

        with ExitStack() as stack:
            corpora = [("bundled", BUNDLED)]
            if dev is not None and not plan.quick:
                if plan.ingest_articles:
                    name = f"dev (first {plan.ingest_articles} articles)"
                    corpora.append(
                        (name, stack.enter_context(subset(dev, first=plan.ingest_articles)))
                    )
                else:
                    corpora.append(("dev", dev))
            sections.append(
                ingest.run(settings, corpora, repeats=plan.repeats, budget_s=plan.budget_s, log=log)
            )
    if "backends" in plan.sections:
        from bench import backends

        if dev is None or plan.dev_questions is None:
            raise click.UsageError("the backends section needs --dev-articles and its questions")
        sections.append(
            backends.run(
                settings,
                articles_path=dev,
                questions_path=plan.dev_questions,
                sample=32 if plan.quick else 256,
                n_questions=plan.questions,
                repeats=plan.repeats,
                budget_s=plan.budget_s,
                log=log,
            )
        )
    if {"query", "indexes", "milvus"} & set(plan.sections):
        sections += _query(settings, plan, log)
    if "answer" in plan.sections:
        from bench import answer

        sections.append(answer.run(settings, plan.repeats, plan.budget_s, log))
    if "server" in plan.sections:
        from bench import load

        sections.append(
            load.run(
                settings,
                levels=(1, 8, 32) if plan.quick else (1, 8, 32, 200),
                requests=20 if plan.quick else 200,
                time_limit_s=30 if plan.quick else 120,
                mixed_clients=20 if plan.quick else 200,
                dev_questions=plan.dev_questions,
                log=log,
            )
        )
    if "startup" in plan.sections:
        from bench import startup

        sections.append(startup.run(settings, plan.repeats, plan.budget_s, log))
    return sections


def _query(settings: Settings, plan: Plan, log: Callable[[str], None]) -> list[report.Section]:
    from bench import query, synth

    source = plan.dev_articles or BUNDLED
    articles = load(source)
    if plan.quick:
        articles = articles[:100]
    questions_path = plan.dev_questions or PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"
    questions = load_questions(questions_path, plan.questions)
    embedder = _embedder(settings, plan)
    cache = settings.data_dir / "bench" / "cache"
    base = synth.build_base(articles, settings, embedder, cache, log)
    vectors = synth.query_vectors([q.question for q in questions], embedder, cache)
    opts = query.Options(
        sizes=list(plan.sizes),
        queries=50 if plan.quick else 200,
        budget_s=20 if plan.quick else 60,
    )
    if plan.kinds:
        opts.kinds = plan.kinds
    elif plan.quick:  # FaissIndex.build spends ~100 s in PQ polysemous training at any size
        opts.kinds = tuple(k for k in opts.kinds if k != "ivf-pq")
        opts.notes.append("--quick leaves out IVF-PQ (its build costs ~100 s at any size).")
    opts.notes.append(
        f"Real text: {len(articles)} articles of {source.name}; questions: {len(questions)} "
        f"from {questions_path.name}; vectors from {embedder.name}."
    )
    parts = {p for p in ("query", "indexes", "milvus") if p in plan.sections}
    return query.run(settings, base, questions, vectors, opts, parts, log)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quick", is_flag=True, help="A small run of every section (a few minutes).")
@click.option("--only", help=f"Comma-separated sections: {', '.join(SECTIONS)}.")
@click.option("--sizes", help="Collection sizes for query/indexes, e.g. 1000,10000,100000.")
@click.option("--repeats", type=click.IntRange(1, 50), help="Runs per figure (default 3).")
@click.option("--questions", type=click.IntRange(1, 5000), help="Dev questions (default 300).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Markdown report; the JSON goes beside it. Sections already there are kept.",
)
@click.option("--fresh", is_flag=True, help="Start a new report instead of merging into --out.")
@click.option(
    "--dev-articles",
    type=click.Path(exists=True, path_type=Path),
    default=default_dev_articles(),
    help="Dev benchmark articles (read in place, never copied).",
)
@click.option(
    "--dev-questions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Its questions (default: questions.jsonl beside the articles).",
)
@click.option(
    "--budget", type=float, help="Seconds a section may spend on repeats (default 400/120)."
)
@click.option("--kinds", help="Index kinds for `indexes`: flat,hnsw,ivf-sq8,ivf-pq (default all).")
@click.option(
    "--ingest-articles",
    type=click.IntRange(0),
    default=0,
    help="Ingest only the first N dev articles (0: all).",
)
@click.option("--hash-embedder", is_flag=True, hidden=True, help="Tests: no model (query only).")
@click.pass_context
def bench_command(
    ctx: click.Context,
    quick: bool,
    only: str | None,
    sizes: str | None,
    repeats: int | None,
    questions: int | None,
    out: Path,
    fresh: bool,
    dev_articles: Path | None,
    dev_questions: Path | None,
    budget: float | None,
    kinds: str | None,
    ingest_articles: int,
    hash_embedder: bool,
) -> None:
    """Đo tốc độ, bộ nhớ và chất lượng (nạp dữ liệu, mô hình nhúng, truy vấn, máy chủ).

    In ra bảng Markdown và ghi vào --out (cùng một tệp JSON). Các con số chỉ để báo cáo.
    """
    settings: Settings = (ctx.obj or {}).get("settings") or Settings()
    chosen = _csv(only) or SECTIONS
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise click.BadParameter(
            f"unknown section(s) {unknown}; choose from {SECTIONS}", param_hint="--only"
        )
    if hash_embedder and set(chosen) - {"query", "indexes", "milvus"}:
        raise click.UsageError("--hash-embedder only works with --only query,indexes,milvus")
    if dev_questions is None and dev_articles is not None:
        beside = questions_beside(dev_articles)
        dev_questions = beside if beside.exists() else None
    plan = Plan(
        sections=tuple(s for s in SECTIONS if s in chosen),
        sizes=_csv(sizes, int) or (QUICK_SIZES if quick else FULL_SIZES),
        repeats=repeats or (1 if quick else 3),
        questions=questions or (30 if quick else 300),
        budget_s=budget or (120.0 if quick else 400.0),
        quick=quick,
        dev_articles=dev_articles,
        dev_questions=dev_questions,
        hash_embedder=hash_embedder,
        kinds=_csv(kinds),
        ingest_articles=ingest_articles,
    )
    from bench.indexes import KINDS

    bad_kinds = [k for k in plan.kinds if k not in KINDS]
    if bad_kinds:
        raise click.BadParameter(f"unknown index kind(s) {bad_kinds}; choose from {KINDS}")
    if any(n < 1 for n in plan.sizes):
        raise click.BadParameter("sizes must be positive", param_hint="--sizes")
    _write(run(settings, plan, _Log()), out, fresh)


def _write(sections: list[report.Section], out: Path, fresh: bool) -> None:
    """Note how the figures were measured (secrets masked), print and write the report."""
    args = sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]
    command = "qa bench " + shlex.join(args)
    overrides = " ".join(
        f"{k}={_masked(k, v)}" for k, v in sorted(os.environ.items()) if k.startswith("HOIDAP_")
    )
    for section in sections:
        section.notes.append(
            f"Measured by `{command.strip()}`" + (f" with {overrides}" if overrides else "") + "."
        )
    text = report.write(sections, out, command=command.strip(), fresh=fresh)
    click.echo(text)
    click.echo(f"Written: {out} and {out.with_suffix('.json')}", err=True)


_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def _masked(name: str, value: str) -> str:
    """The value of a setting as the committed report may show it: secrets as ``***``."""
    return "***" if value and any(w in name.upper() for w in _SECRET_WORDS) else value
