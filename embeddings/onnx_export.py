"""ONNX files of a BERT-style sentence-transformers folder: fp32 from ``torch.onnx.export`` and
dynamic int8 from ONNX Runtime's quantizer, built once next to the model folder.

The folder ``<model>-onnx`` holds ``model.onnx`` (fp32), ``model-int8.onnx`` (weights QInt8 per
channel, activations quantized at run time), each graph's weights beside it in ``<file>.data``
(ONNX external data, which ONNX Runtime memory-maps: a session over the reader's 450 MB starts in
0.11 s instead of 0.7–1.7 s, with the same outputs and speed), and a manifest written last: the
sha256 of each file and the build marker of the model folder it was exported from. A file is checked against the
manifest every time it is loaded: hashed in full, unless a stamp beside it says it was hashed
before and its size, times and inode have not changed since (hashing the reader's 440 MB took
1.8 s of every start). ``ensure_onnx`` and ``export_module`` do the same for any
network over ``input_ids`` and ``attention_mask`` (the reader's).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import ModelError

if TYPE_CHECKING:
    import torch

FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
MANIFEST = "hoidap-onnx.json"
FORMAT_VERSION = 2  # 2: weights in external data files
WEIGHTS_SUFFIX = ".data"  # beside a graph file: its weights
OPSET = 17
STAMP_SUFFIX = ".verified"  # beside a file: its sha256 and stat at the last full check
_SETTLED_NS = 2_000_000_000
SOURCE_MARKER = "hoidap-build.json"  # embeddings.e5.MARKER: what the model folder was built from


def onnx_dir(model_dir: Path) -> Path:
    return model_dir.parent / f"{model_dir.name}-onnx"


def ensure_onnx_model(model_dir: Path, variant: str) -> Path:
    """The verified ONNX file ``variant`` (a key of FILES) of ``model_dir``, exported and
    quantized first if no complete build for this model folder exists yet."""
    return ensure_onnx(
        onnx_dir(model_dir), source_marker(model_dir), lambda out: _export(model_dir, out), variant
    )


def ensure_onnx(target: Path, source: object, export: Callable[[Path], None], variant: str) -> Path:
    """The verified file ``variant`` of the folder ``target``, built first (``export`` writes
    the fp32 file it is given, then it is quantized) unless a complete build from ``source``
    (what the files are made from, compared as JSON) is there."""
    if variant not in FILES:
        raise ValueError(f"variant must be one of {sorted(FILES)}; got {variant!r}")
    manifest = _manifest(target)
    if manifest is None or manifest.get("source") != source:
        _build(target, source, export)
    return verified_file(target, variant)


def verified_file(folder: Path, variant: str) -> Path:
    """``folder``'s file for ``variant`` after checking its sha256 against the manifest."""
    manifest = _manifest(folder)
    if manifest is None:
        raise ModelError(f"{folder} has no readable {MANIFEST}; delete the folder to rebuild it")
    path = folder / FILES[variant]
    files = manifest["files"]
    for name in (path.name, path.name + WEIGHTS_SUFFIX):
        if name == path.name or name in files:  # a graph without tensors has no weights file
            _verify(folder / name, files.get(name), folder)
    return path


def _verify(path: Path, expected: str | None, folder: Path) -> None:
    stamp = _stamp(path)
    if stamp is not None and stamp == _stamped(path, expected):
        return
    try:
        digest = sha256_of(path)
    except OSError as exc:
        raise ModelError(
            f"cannot read {path}: {exc}; delete {folder} and run the command again to rebuild it"
        ) from exc
    if digest != expected:
        raise ModelError(
            f"{path} has sha256 {digest}, the manifest says {expected}: the file is corrupt or "
            f"was changed; delete {folder} and run the command again to rebuild it"
        )
    _write_stamp(path, digest)


def _stamped(path: Path, digest: str | None) -> dict | None:
    """What ``path``'s stamp says when the file is as it was at its last full check."""
    try:
        st = path.stat()
    except OSError:
        return None
    return {"sha256": digest, "stat": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]}


def _stamp(path: Path) -> dict | None:
    try:
        return json.loads(path.with_name(path.name + STAMP_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, digest: str) -> None:
    """Remember that ``path`` as it is now has ``digest``. Not for a file changed in the last
    seconds: a change within the same clock tick could leave its times as they were."""
    stamp = _stamped(path, digest)
    if stamp is None or time.time_ns() - max(stamp["stat"][1:3]) < _SETTLED_NS:
        return
    target = path.with_name(path.name + STAMP_SUFFIX)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:  # a read-only cache: every load hashes the file
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        return None
    return manifest


def source_marker(model_dir: Path) -> object:
    """The model folder's build marker: a rebuilt or different model folder gets new files."""
    try:
        return json.loads((model_dir / SOURCE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{model_dir} has no readable {SOURCE_MARKER}; only model folders hoidap built can "
            "be exported to ONNX"
        ) from exc


def _build(target: Path, source: object, export: Callable[[Path], None]) -> None:
    """Export and quantize into a temporary folder, then rename it into place (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fp32, int8 = tmp / FILES["onnx"], tmp / FILES["onnx-int8"]
        export(fp32)
        _quantize(fp32, int8)
        for graph in (fp32, int8):
            _weights_beside(graph)
        tmp.chmod(0o755)  # mkdtemp makes an owner-only folder
        manifest = {
            "format_version": FORMAT_VERSION,
            "source": source,
            "opset": OPSET,
            "files": {path.name: sha256_of(path) for path in sorted(tmp.iterdir())},
        }
        # the manifest goes in last: a folder without it is never trusted
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if target.exists():  # stale (another source or format), or half-removed by hand
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if _manifest(target) is None:  # fine only if another process renamed its build first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export(model_dir: Path, out: Path) -> None:
    """The transformer's last hidden state; pooling and normalizing happen in numpy."""
    import torch
    from transformers import AutoModel

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    from embeddings.sentence_transformer import quiet_loading

    with quiet_loading():
        model = AutoModel.from_pretrained(str(model_dir)).eval()
    export_module(_LastHiddenState(model), out, ["last_hidden_state"])


def export_module(module: torch.nn.Module, out: Path, outputs: Sequence[str]) -> None:
    """``module(input_ids, attention_mask)`` as ONNX, batch and sequence length dynamic in the
    inputs and in every output."""
    import torch

    # two rows, the second padded, so the traced graph keeps the mask's data path
    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    mask[1, 5:] = 0
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter: dynamic axes, no onnxscript dependency
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=list(outputs),
            dynamic_axes={name: axes for name in ("input_ids", "attention_mask", *outputs)},
            opset_version=OPSET,
            dynamo=False,
        )


def _weights_beside(graph: Path) -> None:
    """Rewrite ``graph`` with its tensors in ``<graph>.data`` (none there when it has none)."""
    import onnx

    model = onnx.load(str(graph))
    onnx.save_model(
        model,
        str(graph),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=graph.name + WEIGHTS_SUFFIX,
        size_threshold=0,
    )
    weights = graph.with_name(graph.name + WEIGHTS_SUFFIX)
    if weights.exists():
        weights.chmod(0o644)  # onnx writes it owner-only; a shared model cache is read by all


def _quantize(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a hint about pre-processing at WARNING
    try:
        quantize_dynamic(str(fp32), str(out), per_channel=True, weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
