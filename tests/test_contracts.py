"""Each implementation of Embedder, Answerer, VectorBackend and IndexBackend passes its
contract (the Milvus backend's are in tests/test_milvus.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings.hashing import HashEmbedder
from qa import components
from qa.core.protocols import Answerer, Embedder, VectorBackend
from qa.core.settings import Settings
from qa.core.types import Hit
from qa.index.dense import FaissBackend
from qa.pipeline import Pipeline
from tests.contracts import (
    AnswererContract,
    EmbedderContract,
    IndexBackendContract,
    VectorBackendContract,
)


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return HashEmbedder(64)

    @pytest.fixture
    def embedder_code(self) -> str:
        return "from embeddings.hashing import HashEmbedder\nembedder = HashEmbedder(64)"

    def test_name_and_dimension_follow_the_setting(self) -> None:
        embedder = components.embedder(Settings(model="hash:96"))
        assert (embedder.name, embedder.dim) == ("hash:96", 96)

    def test_texts_sharing_words_are_closer(self, embedder: Embedder) -> None:
        a, b, c = embedder.embed_passages(
            ["dân tộc thiểu số Cao Bằng", "dan toc thieu so o Cao Bang", "hội thảo nuôi cá tầm"]
        )
        assert float(a @ b) > float(a @ c)

    def test_folds_diacritics(self, embedder: Embedder) -> None:
        np.testing.assert_allclose(
            embedder.embed_query("Đồng Tháp"), embedder.embed_query("dong thap"), atol=1e-6
        )


@pytest.fixture(scope="module")
def torch_e5(real: Pipeline) -> Embedder:
    return components.embedder(real.settings.model_copy(update={"embed_backend": "torch"}))


@pytest.mark.model
class TestSentenceTransformerEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, torch_e5: Embedder) -> Embedder:
        return torch_e5

    @pytest.fixture
    def embedder_code(self, e5_model_dir: Path) -> str:
        return (
            "from qa import components\n"
            "from qa.core.settings import Settings\n"
            "embedder = components.embedder(\n"
            f"    Settings(model_cache_dir={str(e5_model_dir.parent)!r}, embed_backend='torch')\n"
            ")"
        )


class TestExtractiveAnswerer(AnswererContract):
    @pytest.fixture
    def answerer(self, pipeline: Pipeline) -> Answerer:
        return components.answerer(pipeline.settings, pipeline.data)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
class TestFaissBackend(VectorBackendContract):
    @pytest.fixture
    def backend(self, kind: str) -> VectorBackend:
        settings = Settings(index_kind=kind, ivf_codec="flat", ivf_nprobe=64)  # type: ignore[arg-type]
        return FaissBackend(components.index_spec(settings))


class TestLocalBackend(IndexBackendContract):
    @pytest.fixture
    def backend_settings(self) -> dict[str, Any]:
        return {"index_backend": "faiss"}


def test_auto_kind_goes_approximate_past_the_threshold() -> None:
    backend = components.vector_backend(Settings(approx_threshold=100))
    vectors = VectorBackendContract.vectors(n=150)
    assert backend.build(vectors[:99]).kind == "flat"
    assert backend.build(vectors).kind == "ivf"


def test_pipeline_uses_an_injected_retriever_and_answerer(pipeline: Pipeline) -> None:
    class OneHit:
        def __init__(self) -> None:
            self.asked: list[tuple[str, int]] = []

        def retrieve(self, query: str, k: int) -> list[Hit]:
            self.asked.append((query, k))
            return [Hit(pipeline.data.chunks[0], 1.0, 1)]

    retriever = OneHit()
    answerer = components.extractive(pipeline.settings, pipeline.data)
    injected = Pipeline(
        pipeline.settings, embedder=HashEmbedder(), retriever=retriever, answerer=answerer
    )
    answer = injected.ask("Cao Bằng có bao nhiêu huyện biên giới?")
    assert retriever.asked == [("Cao Bằng có bao nhiêu huyện biên giới?", 5)]
    assert [h.chunk.id for h in answer.hits] == [0]
    assert injected.search("Cao Bằng", 3)[0].chunk.id == 0


def test_top_k_above_five_reaches_the_answerer(pipeline: Pipeline) -> None:
    """Every retrieved passage is offered to the answerer (it used to be cut to five)."""
    pipeline.settings = pipeline.settings.model_copy(update={"top_k": 8})
    answer = pipeline.ask("Cao Bằng có bao nhiêu huyện biên giới?")
    assert len(answer.hits) == 8
