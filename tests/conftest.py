"""Shared fixtures: a tiny deterministic embedder and a pipeline over the bundled corpus; the
real model, built and the corpus embedded with it once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.hashing import HashEmbedder
from qa.core.settings import LOOPBACK_HOSTS, PROJECT_ROOT, Settings
from qa.pipeline import Pipeline

CORPUS = PROJECT_ROOT / "data" / "articles"
# FastAPI's TestClient sends ``Host: testserver``
TEST_HOSTS = [*LOOPBACK_HOSTS, "testserver"]


def clear_hoidap_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("HOIDAP_")]:
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_hoidap_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see the documented defaults, whatever ``HOIDAP_*`` the shell has set."""
    clear_hoidap_environment(monkeypatch)
    yield


def make_settings(tmp: Path, **overrides: object) -> Settings:
    """Settings over the bundled corpus; the keyword answerer unless a test asks for another
    (the fast tests use no model; the reader has its own tests and the real-model ones)."""
    overrides.setdefault("answerer", "extractive")
    overrides.setdefault("allowed_hosts", TEST_HOSTS)
    overrides.setdefault("articles", [CORPUS])
    return Settings(data_dir=tmp, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def _indexed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus indexed once with the hash embedder (read-only: copy before writing)."""
    path = tmp_path_factory.mktemp("indexed")
    Pipeline(make_settings(path), embedder=HashEmbedder()).index()
    return path


@pytest.fixture
def pipeline(_indexed_dir: Path, tmp_path: Path) -> Pipeline:
    """A pipeline over its own copy of the indexed bundled corpus, with the hash embedder."""
    data = tmp_path / "data"
    shutil.copytree(_indexed_dir, data, symlinks=True)
    return Pipeline(make_settings(data), embedder=HashEmbedder())


@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model, built once per session into a temporary cache (never into var/)."""
    from embeddings import e5

    return e5.ensure_e5_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory, e5_model_dir: Path) -> Pipeline:
    """The bundled corpus indexed once with the real default model, answered by the reader
    (read-only)."""
    data = tmp_path_factory.mktemp("real")
    with pytest.MonkeyPatch.context() as mp:  # session-scoped: the autouse fixture is too late
        clear_hoidap_environment(mp)
        settings = make_settings(data, model_cache_dir=e5_model_dir.parent, answerer="reader")
    pipeline = Pipeline(settings)
    pipeline.index()
    return pipeline
