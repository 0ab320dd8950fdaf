"""`qa reader`: retrain the reader (the work is in ``qa.answer.reader.recipe``) or check it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from qa.core.settings import Settings

_DEFAULT_TRAIN_DIR = Path("../shared/train-data")
# health news like the dev benchmark (the reader trained on it), and Wikipedia it was only
# validated on (never trained on)
_REFUSAL_SOURCES = ("vinewsqa_train_partial400.json", "viquad1_test.json")
# chosen out of fold on those sources (the model card has the comparison)
_REFUSAL_FEATURES = (
    "margin",
    "null_score",
    "margin_gap",
    "passage_coverage",
    "dense_top",
    "agreement",
    "unknown_name",
)


@click.group(name="reader")
def reader_command() -> None:
    """Bộ đọc đã huấn luyện (HOIDAP_ANSWERER=reader): huấn luyện lại, kiểm định."""


def _bars(stage: str, total: int) -> Callable[[int], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=stage, unit="mẫu", leave=True)

    def update(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return update


def _train_dir_option(help: str) -> Callable[[Callable], Callable]:
    return click.option(
        "--train-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=_DEFAULT_TRAIN_DIR,
        show_default=True,
        help=help,
    )


def _folder_option(name: str, help: str) -> Callable[[Callable], Callable]:
    return click.option(
        name, type=click.Path(file_okay=False, path_type=Path), default=None, help=help
    )


def _validation_options(command: Callable) -> Callable:
    """The validation file, how many of its questions and the seed (as `qa reader train`)."""
    command = click.option("--seed", default=13, show_default=True, type=int)(command)
    command = click.option("--questions", default=400, show_default=True, type=click.IntRange(1))(
        command
    )
    return click.option(
        "--validation",
        "validation_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=_DEFAULT_TRAIN_DIR / "viquad1_test.json",
        show_default=True,
        help="Tệp SQuAD kiểm định (như `qa reader train`).",
    )(command)


_false_refusal_option = click.option(
    "--false-refusal",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Tỷ lệ từ chối sai nhắm tới khi chọn ngưỡng.",
)


@reader_command.command("train")
@_train_dir_option("Thư mục các tệp SQuAD 2.0 (xem training_data.MIX).")
@click.option(
    "--validation",
    "validation_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Tệp kiểm định (mặc định: TRAIN_DIR/viquad1_test.json).",
)
@click.option("--validation-questions", default=400, show_default=True, type=click.IntRange(1))
@_folder_option(
    "--work-dir", "Thư mục làm việc, chạy lại sẽ tiếp tục (mặc định: DATA_DIR/reader-train)."
)
@_folder_option("--out", "Nơi ghi trọng số (mặc định: thư mục trọng số của gói).")
@click.option("--epochs", default=2, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=5e-4, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=13, show_default=True, type=int)
@click.option("--frozen-layers", default=6, show_default=True, type=click.IntRange(1, 11))
@click.option("--trained-layers", default=3, show_default=True, type=click.IntRange(1, 11))
@click.option(
    "--limit", default=None, type=click.IntRange(1), help="Chỉ dùng N câu hỏi đầu (chạy thử)."
)
@_folder_option(
    "--init", "Huấn luyện tiếp từ trọng số bộ đọc trong thư mục này (mặc định: từ các lớp của e5)."
)
@click.pass_context
def train_command(
    ctx: click.Context,
    train_dir: Path,
    validation_file: Path | None,
    validation_questions: int,
    work_dir: Path | None,
    out: Path | None,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    frozen_layers: int,
    trained_layers: int,
    limit: int | None,
    init: Path | None,
) -> None:
    """Huấn luyện bộ đọc trên CPU (khoảng một giờ trên 2 lõi), có điểm lưu và chạy tiếp.

    Trọng số huấn luyện trên dữ liệu UIT (ViQuAD, ViNewsQA) chỉ dùng cho nghiên cứu, theo
    thỏa thuận của tác giả dữ liệu; xem qa/answer/reader/weights/MODEL_CARD.md.
    """
    from qa import components
    from qa.answer.reader import artifact, recipe, training

    settings: Settings = ctx.obj["settings"]
    plan = recipe.Recipe(
        train_dir=train_dir,
        validation_file=validation_file or train_dir / "viquad1_test.json",
        validation_questions=validation_questions,
        work=work_dir or settings.data_dir / "reader-train",
        out=out or artifact.WEIGHTS_DIR,
        frozen_layers=frozen_layers,
        trained_layers=trained_layers,
        max_len=128,
        limit=limit,
        init=init,
        false_refusal_target=0.05,
        config=training.TrainConfig(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed),
    )
    manifest = recipe.run(plan, components.e5_model_dir(settings), _bars, click.echo)
    report = manifest.training["validation"]
    click.echo(
        f"Đã ghi bộ đọc vào {plan.out} (sha256 {manifest.sha256[:12]}…). Kiểm định "
        f"{report['file']} ({report['questions']} câu): EM {report['exact_match']:.3f}, "
        f"F1 {report['f1']:.3f}; ngưỡng {manifest.threshold:.2f}: từ chối sai "
        f"{report['false_refusal']:.3f}, bắt được {report['refusal_recall']:.3f} câu không có đáp án."
    )


@reader_command.command("validate")
@_validation_options
@click.pass_context
def validate_command(ctx: click.Context, validation_file: Path, questions: int, seed: int) -> None:
    """Kiểm định bộ đọc đang dùng (HOIDAP_READER_BACKEND) như `qa reader train`: EM, F1 khi có
    đoạn văn chứa đáp án, và tỷ lệ từ chối ở ngưỡng của trọng số."""
    import json

    from qa import components
    from qa.answer.reader.validation import validate

    settings: Settings = ctx.obj["settings"]
    loaded = components.span_reader(settings)
    report = validate(
        loaded.reader,
        validation_file,
        questions,
        seed,
        _bars("Kiểm định", questions),
        threshold=loaded.threshold,
    )
    figures = {"backend": components.reader_backend(settings), **report.as_dict()}
    click.echo(json.dumps(figures, ensure_ascii=False))


@reader_command.command("calibrate")
@_validation_options
@_false_refusal_option
@click.pass_context
def calibrate_command(
    ctx: click.Context, validation_file: Path, questions: int, seed: int, false_refusal: float
) -> None:
    """Chọn ngưỡng từ chối riêng cho HOIDAP_READER_BACKEND (như `qa reader train` chọn ngưỡng của
    trọng số) và ghi vào reader.json của trọng số đang dùng; `qa reader train` tự làm việc này
    cho onnx-int8."""
    import json

    from qa import components
    from qa.answer.reader import artifact
    from qa.answer.reader.validation import calibrate

    settings: Settings = ctx.obj["settings"]
    weights = settings.reader_weights_dir or artifact.WEIGHTS_DIR
    reader = components.span_reader(settings).reader  # verifies the weights
    backend = components.reader_backend(settings)
    _, report = calibrate(
        reader,
        backend,
        weights,
        artifact.read_manifest(weights),
        validation_file,
        questions,
        seed,
        _bars("Kiểm định", questions),
        false_refusal_target=false_refusal,
    )
    click.echo(json.dumps({"backend": backend, **report.as_dict()}, ensure_ascii=False))


@reader_command.command("train-refusal")
@_train_dir_option("Thư mục các tệp SQuAD 2.0.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    default=_REFUSAL_SOURCES,
    show_default=True,
    help="Tệp SQuAD trong TRAIN_DIR (lặp lại được).",
)
@click.option("--questions", default=600, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=13, show_default=True, type=int)
@_false_refusal_option
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2))
@click.option("--l2", default=30.0, show_default=True, type=click.FloatRange(min=0))
@click.option(
    "--feature",
    "features",
    multiple=True,
    default=_REFUSAL_FEATURES,
    show_default=True,
    help="Đặc trưng mô hình dùng (qa/answer/reader/refusal_features.py: NAMES; lặp lại được).",
)
@_folder_option(
    "--work-dir", "Nơi lưu đặc trưng, chạy lại sẽ dùng lại (mặc định: DATA_DIR/refusal-train)."
)
@_folder_option("--out", "Nơi ghi refusal.json (mặc định: thư mục trọng số của bộ đọc).")
@click.pass_context
def train_refusal_command(
    ctx: click.Context,
    train_dir: Path,
    sources: tuple[str, ...],
    questions: int,
    seed: int,
    false_refusal: float,
    folds: int,
    l2: float,
    features: tuple[str, ...],
    work_dir: Path | None,
    out: Path | None,
) -> None:
    """Học cách từ chối của bộ đọc: mỗi câu hỏi được hỏi qua truy hồi hai lần, có và không có
    bài chứa đáp án; ngưỡng chọn trên các phần giữ lại (ngoài mẫu) cho tỷ lệ từ chối sai đích."""
    from eval.refusal_training import Plan, train
    from qa.answer.reader import artifact
    from qa.answer.reader.refusal_features import NAMES
    from qa.pipeline import Pipeline

    settings: Settings = ctx.obj["settings"]
    unknown = sorted(set(features) - set(NAMES))
    if unknown:
        raise click.BadParameter(f"không có đặc trưng {', '.join(unknown)}", param_hint="--feature")
    plan = Plan(
        train_dir=train_dir,
        sources=sources,
        questions=questions,
        seed=seed,
        false_refusal_target=false_refusal,
        folds=folds,
        l2=l2,
        work=work_dir or settings.data_dir / "refusal-train",
        out=out or settings.reader_weights_dir or artifact.WEIGHTS_DIR,
        features=features,
    )
    figures = train(Pipeline(settings), plan, _bars, click.echo)
    learned, margin = figures["out_of_fold"], figures["margin_and_name_rule"]
    click.echo(
        f"Đã ghi {plan.out / 'refusal.json'} ({figures['examples']} mẫu). Ngoài mẫu: từ chối sai "
        f"{learned['false_refusal']:.3f}, bắt được {learned['refusal_recall']:.3f} câu không có "
        f"đáp án (biên của bộ đọc và luật tên: {margin['false_refusal']:.3f} / "
        f"{margin['refusal_recall']:.3f})."
    )
