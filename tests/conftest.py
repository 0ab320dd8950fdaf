"""Shared fixtures: a tiny deterministic embedder and a pipeline over the bundled corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embeddings.hashing import HashEmbedder
from qa.core.settings import PROJECT_ROOT, Settings
from qa.pipeline import Pipeline

CORPUS = PROJECT_ROOT / "data" / "articles"


def make_settings(tmp: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp, articles=[CORPUS], **overrides)  # type: ignore[arg-type]


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
