"""The FAISS index on disk: loaded memory-mapped, read-only, and still able to take rows."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from qa import components
from qa.core.settings import Settings
from qa.index.dense import FaissBackend, FaissIndex, IndexSpec, auto_nprobe
from tests.contracts import VectorBackendContract

KINDS = ["flat", "hnsw", "ivf"]


def _saved(kind: str, path: Path) -> tuple[FaissBackend, np.ndarray]:
    settings = Settings(index_kind=kind, ivf_codec="flat", ivf_nprobe=64)  # type: ignore[arg-type]
    backend = FaissBackend(components.index_spec(settings))
    vectors = VectorBackendContract.vectors()
    backend.build(vectors[:1500]).save(path)
    return backend, vectors


def _mapped_files() -> set[str]:
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", KINDS)
def test_a_saved_index_loads_memory_mapped(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "dense.faiss"
    backend, _ = _saved(kind, path)
    loaded = backend.load(path, kind)
    assert str(path) in _mapped_files()
    del loaded


@pytest.mark.parametrize("kind", KINDS)
def test_a_loaded_index_takes_rows_and_leaves_its_file_alone(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "dense.faiss"
    backend, vectors = _saved(kind, path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = backend.load(path, kind)
    assert isinstance(loaded, FaissIndex)
    loaded.add(vectors[1500:])
    assert len(loaded) == len(vectors)
    assert 1900 in loaded.search(vectors[1900], 3)[1].tolist()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_ivf_probes_about_three_root_lists_unless_set() -> None:
    spec = components.index_spec(Settings())
    assert [spec.nprobe(lists) for lists in (4, 1264, 4000)] == [4, 107, 190]
    assert auto_nprobe(1264) == 107
    assert components.index_spec(Settings(ivf_nprobe=32)).nprobe(1264) == 32


def test_ivf_past_its_training_sample_still_finds_every_row() -> None:
    # 60,000 vectors make 979 lists; 50 per list is a sample of 48,950 to train on
    spec = IndexSpec("ivf", 1, 32, 128, "flat", 0)
    vectors = np.random.default_rng(3).standard_normal((60_000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = FaissIndex.build(vectors, spec)
    assert len(index) == 60_000
    rows = [0, 31_337, 59_999]
    assert [index.search(vectors[r], 1)[1][0] for r in rows] == rows
