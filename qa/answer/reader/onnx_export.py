"""The reader network as ONNX files, fp32 and dynamic int8, built once into the model cache with
the embedding model's machinery (``embeddings.onnx_export``).

The folder sits beside the e5 folder, named after the reader weights' sha256; its manifest
records that sha256, the layer split and the e5 folder's build marker, so new weights get their
own folder and a rebuilt e5 folder rebuilds it. Exporting needs torch; running the files does not.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.onnx_export import ensure_onnx, export_module, source_marker
from qa.answer.reader import artifact

OUTPUTS = ("start_logits", "end_logits")


def onnx_folder(model_dir: Path, manifest: artifact.ReaderManifest) -> Path:
    return model_dir.parent / f"{model_dir.name}-reader-{manifest.sha256[:16]}-onnx"


def ensure_reader_onnx(
    model_dir: Path, directory: Path, manifest: artifact.ReaderManifest, variant: str
) -> Path:
    """The verified ONNX file ``variant`` (``onnx`` or ``onnx-int8``) of the reader whose
    verified weights (``manifest``) are in ``directory``, over the e5 folder ``model_dir``."""
    artifact.check_base(model_dir, manifest)
    source = {
        "reader_sha256": manifest.sha256,
        "frozen_layers": manifest.frozen_layers,
        "trained_layers": manifest.trained_layers,
        "e5": source_marker(model_dir),
    }
    return ensure_onnx(
        onnx_folder(model_dir, manifest),
        source,
        lambda out: _export(model_dir, directory, manifest, out),
        variant,
    )


def _export(model_dir: Path, directory: Path, manifest: artifact.ReaderManifest, out: Path) -> None:
    from qa.answer.reader import reader

    torch_reader, _ = reader.load(model_dir, directory, manifest)
    export_module(torch_reader.network, out, OUTPUTS)
