"""The `qa` command. Errors become one-line messages and a non-zero exit here, nowhere else.

Start-up is kept short: the pipeline (faiss, scipy, the model) is imported when a command needs
it, and the `eval`, `bench` and `llm` groups are imported only when they are run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from qa.cli.lazy import LazyGroup
from qa.core.errors import HoidapError, InputError
from qa.core.settings import LOOPBACK_HOSTS, MAX_K, Settings
from qa.core.types import Answer, Turn

if TYPE_CHECKING:
    from qa.pipeline import Pipeline


class NotTextError(InputError):
    """An argument or input line that is not UTF-8 text (exit status 2, like a usage error)."""


def _check_text(value: str, what: str) -> str:
    """``value`` unless it holds bytes that were not UTF-8 (Python decodes arguments and, in a C
    locale, stdin with ``surrogateescape``) or another lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "backslashreplace").decode("utf-8")
        raise NotTextError(f"{what} không phải văn bản UTF-8 hợp lệ: {shown}") from None
    return value


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _pipeline(ctx: click.Context) -> Pipeline:
    if "pipeline" not in ctx.obj:
        from qa.pipeline import Pipeline

        ctx.obj["pipeline"] = Pipeline(_settings(ctx))
    return ctx.obj["pipeline"]


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "eval": "eval.cli:eval_command",
        "bench": "bench.cli:bench_command",
        "llm": "qa.cli.llm:llm_command",
        "reader": "qa.cli.reader:reader_command",
        "user": "qa.cli.users:user_command",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Thư mục chỉ mục và dữ liệu.")
@click.option("--model", help="Tên hoặc đường dẫn mô hình sentence-transformers.")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, model: str | None) -> None:
    """hoidap: hỏi đáp tiếng Việt trên các bài viết, có trích dẫn chính xác."""
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if model is not None:
        overrides["model"] = model
    ctx.obj = {"settings": Settings(**overrides)}  # type: ignore[arg-type]


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def index(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Lập chỉ mục tệp hoặc thư mục (mặc định: kho bài viết đi kèm)."""
    report = _pipeline(ctx).index(paths or None, progress=True)
    click.echo(
        f"Đã lập chỉ mục {report.chunks} đoạn: {len(report.added)} bài mới, "
        f"{len(report.changed)} bài đổi, {len(report.removed)} bài bỏ, "
        f"{len(report.unchanged)} bài giữ nguyên; nhúng {report.embedded} đoạn."
    )
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
    click.echo(f"Thời gian: {timing}")


@cli.command()
@click.argument("query")
@click.option(
    "-k", "k", default=None, type=click.IntRange(1, MAX_K), help="Số đoạn trả về (mặc định 5)."
)
@click.option("--json", "as_json", is_flag=True, help="In kết quả dạng JSON.")
@click.pass_context
def search(ctx: click.Context, query: str, k: int | None, as_json: bool) -> None:
    """Tìm các đoạn văn liên quan đến câu hỏi."""
    from web.schemas import PassageOut, SearchResponse

    pipeline = _pipeline(ctx)
    hits = pipeline.search(query, k)
    passages = [PassageOut.of(h, pipeline.article(h.chunk.article_id)) for h in hits]
    if as_json:
        _echo_json(SearchResponse(query=query, passages=passages).model_dump(mode="json"))
        return
    if not passages:
        click.echo("Không tìm thấy đoạn văn nào.")
    for p in passages:
        stages = " ".join(f"{k}={v:.3f}" for k, v in p.scores.items())
        click.echo(
            f"#{p.rank}  {p.score:.3f}  ({stages})\n"
            f"   {p.title}  {p.date}  [{p.article_id} {p.start}:{p.end}]\n"
            f"   {p.text}\n"
        )


def _echo_json(body: object) -> None:
    """The same JSON bodies as the HTTP API (``web.schemas``)."""
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


def _print_answer(answer: Answer, configured: str) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        click.echo(f"(Đã hiểu câu hỏi là: {answer.standalone_question})")
    if answer.short is not None:
        click.secho(answer.short.text, bold=True)
    click.echo(answer.text)
    if answer.answerer != configured and answer.notes:  # a fallback answered: say why
        click.echo(f"  (!) {answer.notes[0]}")
    for sentence in answer.sentences:
        if not sentence.supported:
            click.echo(f"  (!) Chưa được kiểm chứng: {sentence.text}")
    if answer.refused:
        if answer.hits:
            click.echo("\nCác đoạn gần nhất:")
        for hit in answer.hits[:3]:
            click.echo(
                f"  - [{hit.chunk.article_id} {hit.chunk.start}:{hit.chunk.end}] {hit.chunk.text[:200]}"
            )
        return
    if answer.citations:
        click.echo("\nNguồn:")
    for c in answer.citations:
        click.echo(
            f"[{c.number}] {c.title} ({c.date or 'không rõ ngày'}) [{c.article_id} {c.start}:{c.end}]"
        )
        click.echo(f"    “{c.quote}”")


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="In câu trả lời dạng JSON.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool) -> None:
    """Hỏi một câu và nhận câu trả lời có trích dẫn."""
    pipeline = _pipeline(ctx)
    answer = pipeline.ask(question)
    if as_json:
        from web.schemas import AnswerOut

        _echo_json(AnswerOut.of(answer, pipeline.data.articles).model_dump(mode="json"))
    else:
        _print_answer(answer, pipeline.settings.answerer)


@cli.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """Trò chuyện trong terminal; câu hỏi tiếp theo hiểu theo ngữ cảnh câu trước."""
    pipeline = _pipeline(ctx)
    history: list[Turn] = []
    click.echo("Nhập câu hỏi (Ctrl-D hoặc 'thoát' để kết thúc).")
    while True:
        try:
            question = _check_text(input("> "), "Dòng nhập").strip()
        except EOFError:
            click.echo()
            return
        except UnicodeDecodeError:
            raise NotTextError("Dòng nhập không phải văn bản UTF-8 hợp lệ.") from None
        if question.lower() in {"thoát", "thoat", "exit", "quit"}:
            return
        if not question:
            continue
        try:
            answer = pipeline.ask(question, history)
        except InputError as exc:
            click.echo(f"Lỗi: {exc}", err=True)
            continue
        _print_answer(answer, pipeline.settings.answerer)
        history.append(Turn.of(answer))


@cli.command()
@click.option("--host", help="Địa chỉ (mặc định 127.0.0.1).")
@click.option("--port", type=int, help="Cổng (mặc định 8000).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Chạy trang hỏi đáp trên trình duyệt."""
    import uvicorn

    from web import server
    from web.app import create_app

    settings = _settings(ctx)
    # the address it is bound to is one of the host names it answers to (web.hosts)
    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    pipeline = _pipeline(ctx)
    # fail here, with a clear message, if there is no usable index; load the models before the
    # first question rather than during it
    _ = pipeline.data, pipeline.embedder, pipeline.answerer()
    server.limit_library_threads(settings.server_library_threads)
    app = create_app(settings, pipeline)
    if settings.auth == "accounts" and not app.state.accounts.users():
        click.echo("Chưa có người dùng nào: hãy thêm bằng `qa user add TÊN --admin`.", err=True)
    if set(settings.served_hosts()) <= set(LOOPBACK_HOSTS) and settings.host not in LOOPBACK_HOSTS:
        click.echo(
            "Máy chủ chỉ trả lời các tên loopback: thêm tên mà người dùng gõ vào trình duyệt vào "
            "HOIDAP_ALLOWED_HOSTS (ví dụ HOIDAP_ALLOWED_HOSTS=hoidap.lan,192.168.1.10).",
            err=True,
        )
    click.echo(f"Trang hỏi đáp: http://{settings.host}:{settings.port}")
    uvicorn.Server(
        server.config(app, settings, settings.host, settings.port, log_level="info")
    ).run()


# Commands that write nothing but their output: once it is out, the process may end at once.
_EXIT_AT_ONCE = frozenset({"ask", "search"})


def run() -> None:
    """The `qa` executable: ``main`` on the process's arguments. After ``qa ask`` and
    ``qa search`` the process ends without tearing the interpreter down, which with torch and
    the models loaded takes seconds (``qa bench --only startup``, "python exit")."""
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    if _command_name(sys.argv[1:]) in _EXIT_AT_ONCE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _command_name(args: Sequence[str]) -> str | None:
    """The subcommand ``args`` run: the first argument that is neither an option of ``qa``
    itself nor the value of one."""
    valued = {
        o for p in cli.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts
    }
    rest = iter(args)
    for arg in rest:
        if arg in valued:
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        for arg in args:
            _check_text(arg, "Đối số")
        cli.main(args=args, prog_name="qa", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Đã hủy.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except NotTextError as exc:
        click.echo(f"Lỗi: {exc}", err=True)
        sys.exit(2)
    except HoidapError as exc:
        click.echo(f"Lỗi: {exc}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        click.echo(f"Lỗi cấu hình: {problems}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Đã dừng.", err=True)
        sys.exit(130)
