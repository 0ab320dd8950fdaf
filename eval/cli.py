"""`qa eval`: run an eval set (`qa eval SET`, `--squad`, `--beir`) or compare two runs.

The group is registered on the `qa` command: ``cli.add_command(eval_command, name="eval")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eval.compare import compare_runs, format_comparison, load_run, write_comparison
from eval.eval_set import EvalSet, OnInvalid, load_set
from eval.external import MISSING_ANSWERS, corpus_pipeline, load_beir, load_squad
from eval.report import format_value, metric_label
from eval.runner import REPORT, RESULTS, check_out_dir, default_run_dir, run_set, write_run
from eval.summary import gate_failure
from qa.core.errors import HoidapError
from qa.core.settings import Settings
from qa.pipeline import Pipeline


class _RunByDefault(click.Group):
    """`qa eval SET ...` means `qa eval run SET ...`; named subcommands work as usual."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _pipeline(ctx: click.Context) -> Pipeline:
    """The pipeline of the `qa` group (its settings, `--data-dir`, `--model`), else a new one."""
    obj = ctx.ensure_object(dict)
    if "pipeline" not in obj:
        obj["pipeline"] = Pipeline(obj.get("settings") or Settings())
    return obj["pipeline"]


@click.group(cls=_RunByDefault, context_settings={"help_option_names": ["-h", "--help"]})
def eval_command() -> None:
    """Đánh giá truy xuất, câu trả lời và trích dẫn trên một bộ câu hỏi.

    \b
    qa eval SET_FILE [TÙY CHỌN]      chạy bộ câu hỏi (như `qa eval run`)
    qa eval --squad FILE.json        chạy tệp SQuAD
    qa eval --beir DIR               chạy thư mục BEIR (chỉ truy xuất)
    qa eval compare RUN_A RUN_B      so sánh hai lần chạy
    """


def _load(
    ctx: click.Context,
    set_file: Path | None,
    squad: Path | None,
    beir: Path | None,
    articles: Path | None,
    on_invalid: OnInvalid,
) -> tuple[EvalSet, Pipeline]:
    if sum(x is not None for x in (set_file, squad, beir)) != 1:
        raise click.UsageError("Cần đúng một nguồn câu hỏi: SET_FILE, --squad hoặc --beir.")
    if articles is not None and set_file is None:
        raise click.UsageError("--articles chỉ dùng cùng SET_FILE.")
    base = _pipeline(ctx)
    if squad is not None:
        eval_set, corpus = load_squad(squad, on_invalid)
        return eval_set, corpus_pipeline(base, corpus, progress=True)
    if beir is not None:
        eval_set, corpus = load_beir(beir)
        return eval_set, corpus_pipeline(base, corpus, progress=True)
    assert set_file is not None
    eval_set = load_set(set_file, on_invalid)
    if articles is None:
        return eval_set, base
    return eval_set, corpus_pipeline(base, articles, progress=True)


def _report_input(eval_set: EvalSet) -> None:
    for invalid in eval_set.invalid:
        click.echo(f"{eval_set.path}:{invalid.line}: bỏ qua: {invalid.message}", err=True)
    for note in eval_set.notes:
        click.echo(f"{eval_set.path}: {note}", err=True)
    if eval_set.counts.get(MISSING_ANSWERS):
        click.echo(
            f"{eval_set.counts[MISSING_ANSWERS]} đáp án không có trong đoạn văn của chúng.",
            err=True,
        )


def _summary_text(results: dict[str, Any]) -> str:
    summary = results["summary"]
    width = max(len(metric_label(k)) for k in summary)
    return "\n".join(
        f"{metric_label(key):<{width}}  {format_value(key, value):>10}"
        for key, value in summary.items()
        if value is not None
    )


@eval_command.command("run")
@click.argument("set_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--squad", type=click.Path(dir_okay=False, path_type=Path), help="Tệp SQuAD.")
@click.option("--beir", type=click.Path(file_okay=False, path_type=Path), help="Thư mục BEIR.")
@click.option(
    "--articles",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tệp bài viết JSONL của bộ câu hỏi (lập chỉ mục riêng).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Thư mục kết quả.")
@click.option("--overwrite", is_flag=True, help="Ghi đè thư mục kết quả đã có.")
@click.option(
    "--on-invalid",
    type=click.Choice(["skip", "stop"]),
    default="skip",
    show_default=True,
    help="Gặp dòng không hợp lệ: bỏ qua hay dừng.",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Truy xuất bỏ lỡ nếu không có đoạn đúng trong k đoạn đầu.",
)
@click.option(
    "--min-recall5",
    type=click.FloatRange(0.0, 1.0),
    help="Thoát với mã lỗi nếu recall đáp án @5 thấp hơn ngưỡng này.",
)
@click.pass_context
def run_command(
    ctx: click.Context,
    set_file: Path | None,
    squad: Path | None,
    beir: Path | None,
    articles: Path | None,
    out: Path | None,
    overwrite: bool,
    on_invalid: OnInvalid,
    k: int,
    min_recall5: float | None,
) -> None:
    """Chạy bộ câu hỏi SET_FILE (JSONL) và ghi results.json, report.html."""
    try:
        if out is not None:
            check_out_dir(out, overwrite)
        eval_set, pipeline = _load(ctx, set_file, squad, beir, articles, on_invalid)
        _report_input(eval_set)
        out = out or default_run_dir(eval_set.name)
        results = run_set(pipeline, eval_set, k=k, progress=True)
        write_run(results, out, overwrite=overwrite)
    except HoidapError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_summary_text(results))
    click.echo(f"\nĐã ghi {out / RESULTS} và {out / REPORT}")
    failure = None if min_recall5 is None else gate_failure(results["summary"], min_recall5)
    if failure:
        raise click.ClickException(failure)


@eval_command.command("compare")
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Thư mục ghi compare.*.")
def compare_command(run_a: Path, run_b: Path, out: Path | None) -> None:
    """So sánh hai lần chạy RUN_A và RUN_B (thư mục kết quả)."""
    try:
        comparison = compare_runs(load_run(run_a), load_run(run_b))
        folder = out or (run_b if run_b.is_dir() else run_b.parent)
        json_path, html_path = write_comparison(comparison, folder)
    except HoidapError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_comparison(comparison))
    click.echo(f"\nĐã ghi {json_path} và {html_path}")


@eval_command.command("make-unanswerable")
@click.argument("set_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Ghi đè tệp đã có.")
def make_unanswerable_command(set_file: Path, out: Path, overwrite: bool) -> None:
    """Tạo bộ câu hỏi không trả lời được từ SET_FILE: mỗi câu được tìm như thể bài viết chứa
    đáp án không có trong kho (chạy nó cùng --articles của bộ gốc)."""
    from eval.unanswerable import gold_removed_rows, write_rows

    try:
        rows = gold_removed_rows(load_set(set_file))
        write_rows(rows, out, overwrite=overwrite)
    except HoidapError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Đã ghi {len(rows)} câu hỏi không trả lời được vào {out}")


@eval_command.command("domains")
@click.option("--sample", type=click.IntRange(1), help="Câu hỏi mỗi bộ (mẫu cố định).")
@click.option(
    "--only",
    help="Các bộ, cách nhau bởi dấu phẩy (mặc định tất cả: news,encyclopedia,regulations).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval") / "runs" / "domains.md",
    show_default=True,
    help="Tệp Markdown kết quả (JSON ghi bên cạnh).",
)
@click.pass_context
def domains_command(ctx: click.Context, sample: int | None, only: str | None, out: Path) -> None:
    """So sánh mọi cách kết hợp BM25 và vector trên tin tức, bách khoa và quy chế."""
    from eval import domains

    chosen = [d for d in domains.DOMAINS if not only or d.name in only.split(",")]
    if not chosen:
        raise click.UsageError(f"--only: không có bộ nào tên {only!r}")
    base = _pipeline(ctx)
    try:
        results = domains.run(
            base,
            chosen,
            sample=sample,
            default=domains.method_of(base.settings),
            log=lambda message: click.echo(message, err=True),
        )
    except HoidapError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(domains.format_markdown(results))
    markdown, json_path = domains.write(results, out)
    click.echo(f"\nĐã ghi {markdown} và {json_path}")


@eval_command.command("train-fusion")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Tệp trọng số (mặc định: qa/retrieve/weights/fusion.json).",
)
@click.pass_context
def train_fusion_command(ctx: click.Context, out: Path | None) -> None:
    """Huấn luyện cách kết hợp học được trên các câu hỏi của dữ liệu huấn luyện."""
    from eval import fusion_training
    from qa.retrieve.fusion_model import WEIGHTS_FILE

    try:
        model = fusion_training.train(
            _pipeline(ctx),
            fusion_training.TRAINING_SETS,
            log=lambda message: click.echo(message, err=True),
        )
    except HoidapError as exc:
        raise click.ClickException(str(exc)) from exc
    target = out or WEIGHTS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    click.echo(f"Đã ghi {target}")
