"""The ONNX and int8 ONNX files of the default model, exported once for the backends section."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

INT8_FILE = "onnx/model_qint8_avx512_vnni.onnx"  # the file SentenceTransformerEmbedder loads
ONNX_FILE = "onnx/model.onnx"


def onnx_missing() -> str | None:
    """Why the ONNX backend cannot run here, or None when it can."""
    try:
        import onnxruntime  # noqa: F401
        from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401
    except Exception as exc:  # ImportError, or optimum failing against this transformers
        return f"{type(exc).__name__}: {exc}"
    return None


def prepare_onnx(cache_dir: Path) -> tuple[Path, float]:
    """The default model folder in ``cache_dir`` with its ONNX and int8 files; export seconds."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    from embeddings.e5 import ensure_e5_model

    folder = ensure_e5_model(cache_dir)
    clock = time.perf_counter()
    if not (folder / ONNX_FILE).exists():
        model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            model.save_pretrained(tmp)  # only its onnx/model.onnx is kept
            (folder / "onnx").mkdir(exist_ok=True)
            shutil.copy(Path(tmp) / ONNX_FILE, folder / ONNX_FILE)
    if not (folder / INT8_FILE).exists():
        model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(folder))
    return folder, time.perf_counter() - clock
