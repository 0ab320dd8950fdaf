"""The Milvus backend: every build is one Milvus collection holding both searchable parts.

A row is one passage: ``id`` (the chunk id), ``article``, the ``dense`` vector, and the
passage's accented and folded BM25 terms, from which Milvus's BM25 functions fill a sparse
field each. Milvus has no Vietnamese analyzer, so hoidap analyses the text itself (segmented,
normalised, accented and folded, as for the local BM25) and stores each term as an opaque
alphanumeric token that Milvus's ``standard`` tokenizer keeps whole ('a.b@c.vn', '94,88' and
'dân_tộc' would otherwise be split or changed).

Articles and chunk offsets stay in the build folder (the one source of truth for citations);
the folder's ``milvus.json`` names its collection. A build writes a new collection and the
store swaps the folder link, so a failed or killed build leaves the previous collection
serving; then the alias ``MILVUS_COLLECTION`` is pointed at the new one and collections older
than the previous build are dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.errors import IndexCorruptError, InputError
from qa.core.protocols import DocumentTerms
from qa.core.types import QueryTerms
from qa.index.dense import IndexSpec, Kind
from qa.index.milvus_client import MilvusConnection

SCHEMA_VERSION = 1
_REINDEX = "Hãy chạy lại `qa index` để tạo lại chỉ mục."
_FIELDS = ("accented", "folded")
_INSERT_BATCH = 1000
_MAX_TERMS_CHARS = 65_535  # Milvus's longest VARCHAR
_SEARCH_LIMIT = 16_384  # Milvus's largest top-k


def token(term: str) -> str:
    """The term as one alphanumeric token (64-bit hash, base32)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return "t" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def _tokens(terms: Sequence[str]) -> str:
    return " ".join(token(t) for t in terms)


@dataclass
class _Collection:
    """One build's collection and what is known of it without asking Milvus."""

    connection: MilvusConnection
    name: str
    dim: int
    rows: int
    spec: IndexSpec
    kind: Kind

    def search(self, field: str, query: Any, n: int, params: dict, where: str = "") -> list:
        n = min(n, self.rows, _SEARCH_LIMIT)
        if n <= 0:
            return []
        result = self.connection.call(
            lambda c: c.search(
                self.name,
                data=[query],
                anns_field=field,
                limit=n,
                filter=where,
                output_fields=["id"],
                search_params=params,
            ),
            collection=self.name,
        )
        return list(result[0])


class MilvusVectorIndex:
    """``VectorIndex`` over a collection's dense field."""

    def __init__(self, collection: _Collection) -> None:
        self.collection = collection
        self.kind = collection.kind

    def __len__(self) -> int:
        return self.collection.rows

    def add(self, vectors: np.ndarray) -> None:
        """Append rows without keyword terms (the ``VectorIndex`` contract)."""
        start = self.collection.rows
        _insert(self.collection, vectors, [([], [])] * len(vectors), start)
        self.collection.rows += len(vectors)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.kind == "hnsw":
            params["params"] = {"ef": max(self.collection.spec.hnsw_ef_search, k)}
        elif self.kind == "ivf":
            params["params"] = {"nprobe": self.collection.spec.ivf_nprobe}
        hits = self.collection.search("dense", np.asarray(vector, np.float32).tolist(), k, params)
        return _arrays(hits)

    def save(self, path: Path) -> None:
        pointer = {"schema": SCHEMA_VERSION, "collection": self.collection.name}
        path.write_text(json.dumps({**pointer, "dim": self.collection.dim}), "utf-8")


class MilvusKeywordIndex:
    """``KeywordIndex`` over a collection's BM25 fields; the terms' document frequencies are
    kept in the build folder for ``idf`` and for the folded vocabulary questions use."""

    def __init__(self, collection: _Collection, df: Mapping[str, dict[str, int]]) -> None:
        self.collection = collection
        self._df = df

    @property
    def folded_vocabulary(self) -> dict[str, int]:
        return self._df["folded"]

    def __len__(self) -> int:
        return self.collection.rows

    def _search(self, query: QueryTerms, n: int, where: str = "") -> list:
        if not query.terms:
            return []
        field = "folded_sparse" if query.folded else "accented_sparse"
        return self.collection.search(
            field, _tokens(query.terms), n, {"metric_type": "BM25"}, where
        )

    def top(self, query: QueryTerms, n: int) -> tuple[np.ndarray, np.ndarray]:
        return _arrays(self._search(query, n))

    def top_and_scores_of(
        self, query: QueryTerms, n: int, ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores, top = self.top(query, n)
        found = dict(zip(top.tolist(), scores.tolist(), strict=True))
        # only the ids outside the top need a second, filtered search
        missing = list(dict.fromkeys(int(i) for i in ids if int(i) not in found))
        if missing:
            more, more_ids = _arrays(self._search(query, len(missing), f"id in {missing}"))
            found.update(zip(more_ids.tolist(), more.tolist(), strict=True))
        return scores, top, np.array([found.get(int(i), 0.0) for i in ids], dtype=np.float32)

    def idf(self, query: QueryTerms) -> np.ndarray:
        """BM25 idf of each term; a term the corpus never uses gets the largest idf."""
        df_of = self._df["folded" if query.folded else "accented"]
        df = np.array([df_of.get(t, 0) for t in query.terms], dtype=np.float32)
        return np.log1p((self.collection.rows - df + 0.5) / (df + 0.5)).astype(np.float32)

    def save(self, directory: Path) -> None:
        (directory / "keyword_df.json").write_text(
            json.dumps(self._df, ensure_ascii=False), "utf-8"
        )


def _arrays(hits: list) -> tuple[np.ndarray, np.ndarray]:
    # milvus-lite reports BM25 as a negative distance, a server as a positive score: BM25 scores
    # are never negative, so the magnitude is the score either way
    scores = np.array([abs(float(h["distance"])) for h in hits], dtype=np.float32)
    ids = np.array([int(h["id"]) for h in hits], dtype=np.int64)
    return scores, ids


def _insert(
    collection: _Collection, vectors: np.ndarray, terms: Sequence[DocumentTerms], start: int
) -> None:
    for offset in range(0, len(vectors), _INSERT_BATCH):
        rows = []
        for i in range(offset, min(offset + _INSERT_BATCH, len(vectors))):
            row: dict[str, Any] = {"id": start + i, "dense": vectors[i].tolist()}
            for field, field_terms in zip(_FIELDS, terms[i], strict=True):
                text = _tokens(field_terms)
                if len(text) > _MAX_TERMS_CHARS:
                    raise InputError(
                        f"Một đoạn có {len(field_terms)} từ, quá nhiều cho Milvus; hãy giảm "
                        "HOIDAP_CHUNK_SIZE."
                    )
                row[field] = text
            rows.append(row)
        collection.connection.call(lambda c, rows=rows: c.insert(collection.name, rows))


def _document_frequencies(terms: Sequence[DocumentTerms]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {field: Counter() for field in _FIELDS}
    for doc in terms:
        for field, field_terms in zip(_FIELDS, doc, strict=True):
            counts[field].update(set(field_terms))
    return {field: dict(c) for field, c in counts.items()}


class MilvusBackend:
    """``IndexBackend`` on Milvus: build a collection, load one named by a build folder."""

    name = "milvus"
    dense_file = "milvus.json"

    def __init__(self, connection: MilvusConnection, alias: str, spec: IndexSpec) -> None:
        self.connection = connection
        self.alias = alias
        self.spec = spec

    def build(
        self, vectors: np.ndarray, terms: Sequence[DocumentTerms], *, k1: float, b: float
    ) -> tuple[MilvusVectorIndex, MilvusKeywordIndex]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(terms) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors but {len(terms)} passages of terms")
        n, dim = vectors.shape
        name = f"{self.alias}_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}"
        collection = _Collection(self.connection, name, dim, 0, self.spec, self.spec.resolve(n))
        self._create(collection, k1, b)
        _insert(collection, vectors, terms, 0)
        self.connection.call(lambda c: c.flush(name))
        collection.rows = n
        return MilvusVectorIndex(collection), MilvusKeywordIndex(
            collection, _document_frequencies(terms)
        )

    def _create(self, collection: _Collection, k1: float, b: float) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=collection.dim)
        index = MilvusClient.prepare_index_params()
        index.add_index("dense", metric_type="IP", **self._dense_index(collection.kind))
        for field in _FIELDS:
            schema.add_field(
                field,
                DataType.VARCHAR,
                max_length=_MAX_TERMS_CHARS,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )
            schema.add_field(f"{field}_sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{field}_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=[field],
                    output_field_names=[f"{field}_sparse"],
                )
            )
            index.add_index(
                f"{field}_sparse",
                index_type="SPARSE_INVERTED_INDEX",
                metric_type="BM25",
                params={"bm25_k1": k1, "bm25_b": b},
            )
        self.connection.call(
            lambda c: c.create_collection(
                collection.name, schema=schema, index_params=index, consistency_level="Strong"
            )
        )

    def _dense_index(self, kind: Kind) -> dict[str, Any]:
        if kind == "hnsw":
            m = self.spec.hnsw_m
            return {"index_type": "HNSW", "params": {"M": m, "efConstruction": max(40, 2 * m)}}
        if kind == "ivf":
            codec = {"flat": "IVF_FLAT", "sq8": "IVF_SQ8", "pq": "IVF_FLAT"}[self.spec.ivf_codec]
            return {"index_type": codec, "params": {"nlist": 1024}}
        return {"index_type": "FLAT"}

    def load(self, directory: Path, kind: str) -> tuple[MilvusVectorIndex, MilvusKeywordIndex]:
        dense = self.load_vectors(directory / self.dense_file, kind)
        try:
            df = json.loads((directory / "keyword_df.json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"Thiếu hoặc hỏng keyword_df.json ở {directory}. {_REINDEX}"
            ) from exc
        return dense, MilvusKeywordIndex(dense.collection, df)

    def load_vectors(self, path: Path, kind: str) -> MilvusVectorIndex:
        """The collection ``path`` (a build's ``milvus.json``) names, checked against it."""
        if kind not in ("flat", "hnsw", "ivf"):
            raise IndexCorruptError(f"Loại chỉ mục vector không rõ: {kind!r}")
        try:
            pointer = json.loads(path.read_text("utf-8"))
            name, dim = str(pointer["collection"]), int(pointer["dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"Tệp {path} hỏng. {_REINDEX}") from exc
        if pointer.get("schema") != SCHEMA_VERSION:
            raise IndexCorruptError(
                f"Bộ sưu tập Milvus {name} dùng lược đồ {pointer.get('schema')}, phiên bản này "
                f"cần {SCHEMA_VERSION}. {_REINDEX}"
            )
        if not self.connection.call(lambda c: c.has_collection(name)):
            raise IndexCorruptError(
                f"Milvus ở {self.connection.uri} không có bộ sưu tập {name} mà chỉ mục cần "
                f"(HOIDAP_MILVUS_URI trỏ tới một Milvus khác?). {_REINDEX}"
            )
        described = self.connection.call(lambda c: c.describe_collection(name))
        fields = {f["name"]: f for f in described["fields"]}
        expected = {"id", "dense", *_FIELDS, *(f"{f}_sparse" for f in _FIELDS)}
        if set(fields) != expected or int(fields["dense"]["params"].get("dim", -1)) != dim:
            raise IndexCorruptError(
                f"Lược đồ của bộ sưu tập Milvus {name} không như phiên bản này cần. {_REINDEX}"
            )
        self.connection.call(lambda c: c.load_collection(name))
        stats = self.connection.call(lambda c: c.query(name, filter="", output_fields=["count(*)"]))
        rows = int(stats[0]["count(*)"])
        return MilvusVectorIndex(_Collection(self.connection, name, dim, rows, self.spec, kind))  # type: ignore[arg-type]

    def published(self, directory: Path) -> None:
        """Point the alias at this build's collection; drop all but it and the previous one."""
        name = json.loads((directory / self.dense_file).read_text("utf-8"))["collection"]

        def switch(c: Any) -> None:
            aliases = c.list_aliases().get("aliases", [])
            previous = (
                c.describe_alias(self.alias)["collection_name"] if self.alias in aliases else None
            )
            if previous is None:
                c.create_alias(name, self.alias)
            else:
                c.alter_alias(name, self.alias)
            for other in c.list_collections():
                if other.startswith(f"{self.alias}_") and other not in (name, previous):
                    c.drop_collection(other)

        self.connection.call(switch)
