"""The Milvus backend: a build's searchable parts are rows of one Milvus collection.

A row is one passage: ``id`` (its content key, ``qa.index.passage_keys``), the ``dense``
vector, and the passage's accented and folded BM25 terms, from which Milvus's BM25 functions
fill a sparse field each. Milvus has no Vietnamese analyzer, so hoidap analyses the text itself
(segmented, normalised, accented and folded, as for the local BM25) and stores each term as an
opaque alphanumeric token that Milvus's ``standard`` tokenizer keeps whole ('a.b@c.vn', '94,88'
and 'dân_tộc' would otherwise be split or changed).

Articles and chunk offsets stay in the build folder (the one source of truth for citations);
the folder's ``milvus.json`` names its collection and ``milvus_keys.npy`` holds the key of
each of its passages, so a hit's key gives its position. A re-index updates the serving
collection in place when it can (``qa.index.milvus_update``: only added and changed articles'
rows are written); otherwise it writes a new collection. Either way the store swaps the
folder link, so a failed or killed build leaves the previous build serving; then the alias
``MILVUS_COLLECTION`` is pointed at the build's collection, collections older than the
previous one are dropped and, after an update in place, rows the build does not own deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.core.errors import IndexCorruptError, InputError
from qa.core.protocols import DocumentTerms
from qa.core.types import QueryTerms
from qa.index import passage_keys
from qa.index.dense import IndexSpec, Kind
from qa.index.milvus_client import MilvusConnection
from qa.index.milvus_update import KEYS_FILE, POINTER_FILE, Update

SCHEMA_VERSION = 1
MILVUS_LISTS = 1024  # IVF lists of a Milvus collection
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
    """One build's rows in a collection, and what is known of it without asking Milvus.

    The collection may hold rows this build does not own (an update being written, or rows a
    killed one left): hits are mapped from keys to this build's positions, the others dropped.
    """

    connection: MilvusConnection
    name: str
    dim: int
    keys: np.ndarray  # this build's row keys, by position
    stored: int  # rows in the collection when last counted, this build's and others
    spec: IndexSpec
    kind: Kind
    k1: float
    b: float

    def __post_init__(self) -> None:
        self.own(self.keys)

    def own(self, keys: np.ndarray) -> None:
        self.keys = keys
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]

    @property
    def rows(self) -> int:
        return len(self.keys)

    def positions(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``keys`` this build owns, and their positions."""
        at = np.minimum(np.searchsorted(self._sorted, keys), max(self.rows - 1, 0))
        owned = (self._sorted[at] == keys) if self.rows else np.zeros(len(keys), bool)
        return owned, self._order[at[owned]]

    def search(
        self, field: str, query: Any, n: int, params: Callable[[int], dict], where: str = ""
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of this build's best ``n`` rows; rows it does not own are
        fetched and dropped, fetching more until ``n`` remain or the collection is exhausted.
        ``params``: the search parameters for a number of hits."""
        n = min(n, self.rows, _SEARCH_LIMIT)
        if n <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        limit = min(n + max(self.stored - self.rows, 0), _SEARCH_LIMIT)
        while True:
            result = self.connection.call(
                lambda c, limit=limit: c.search(
                    self.name,
                    data=[query],
                    anns_field=field,
                    limit=limit,
                    filter=where,
                    output_fields=["id"],
                    search_params=params(limit),
                ),
                collection=self.name,
            )
            scores, keys = _arrays(list(result[0]))
            owned, positions = self.positions(keys)
            if owned.sum() >= n or len(keys) < limit or limit == _SEARCH_LIMIT:
                return scores[owned][:n], positions[:n]
            limit = min(2 * limit, _SEARCH_LIMIT)


class MilvusVectorIndex:
    """``VectorIndex`` over a collection's dense field."""

    def __init__(self, collection: _Collection) -> None:
        self.collection = collection
        self.kind = collection.kind

    def __len__(self) -> int:
        return self.collection.rows

    def add(self, vectors: np.ndarray) -> None:
        """Append rows without keyword terms (the ``VectorIndex`` contract)."""
        c = self.collection
        keys = np.array(
            [passage_keys.key(c.name, "added", str(c.rows + i)) for i in range(len(vectors))],
            dtype=np.int64,
        )
        keys = passage_keys.unique(np.concatenate([c.keys, keys]))
        _write(c.connection, c.name, "insert", vectors, [([], [])] * len(vectors), keys[c.rows :])
        c.own(keys)
        c.stored += len(vectors)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.collection.search(
            "dense", np.asarray(vector, np.float32).tolist(), k, self._params
        )

    def _params(self, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.kind == "hnsw":
            params["params"] = {"ef": max(self.collection.spec.hnsw_ef_search, limit)}
        elif self.kind == "ivf":
            params["params"] = {"nprobe": self.collection.spec.nprobe(MILVUS_LISTS)}
        return params

    def save(self, path: Path) -> None:
        c = self.collection
        pointer = {"schema": SCHEMA_VERSION, "collection": c.name, "dim": c.dim}
        path.write_text(json.dumps({**pointer, "kind": c.kind, "k1": c.k1, "b": c.b}), "utf-8")
        np.save(path.with_name(KEYS_FILE), c.keys)


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

    def top(self, query: QueryTerms, n: int, where: str = "") -> tuple[np.ndarray, np.ndarray]:
        if not query.terms:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        field = "folded_sparse" if query.folded else "accented_sparse"
        return self.collection.search(field, _tokens(query.terms), n, _bm25_params, where)

    def top_and_scores_of(
        self, query: QueryTerms, n: int, ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores, top = self.top(query, n)
        found = dict(zip(top.tolist(), scores.tolist(), strict=True))
        # only the ids outside the top need a second, filtered search
        missing = list(dict.fromkeys(int(i) for i in ids if int(i) not in found))
        if missing:
            keys = self.collection.keys[missing].tolist()
            more, more_ids = self.top(query, len(missing), f"id in {keys}")
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


def _bm25_params(limit: int) -> dict[str, Any]:
    return {"metric_type": "BM25"}


def _arrays(hits: list) -> tuple[np.ndarray, np.ndarray]:
    """(scores, keys) of Milvus hits."""
    # milvus-lite reports BM25 as a negative distance, a server as a positive score: BM25 scores
    # are never negative, so the magnitude is the score either way
    scores = np.array([abs(float(h["distance"])) for h in hits], dtype=np.float32)
    keys = np.array([int(h["id"]) for h in hits], dtype=np.int64)
    return scores, keys


def _write(
    connection: MilvusConnection,
    name: str,
    method: str,
    vectors: np.ndarray,
    terms: Sequence[DocumentTerms],
    keys: np.ndarray,
) -> None:
    """``insert`` (a new collection) or ``upsert`` (rows a killed update may have written)."""
    for offset in range(0, len(vectors), _INSERT_BATCH):
        rows = []
        for i in range(offset, min(offset + _INSERT_BATCH, len(vectors))):
            row: dict[str, Any] = {"id": int(keys[i]), "dense": vectors[i].tolist()}
            for field, field_terms in zip(_FIELDS, terms[i], strict=True):
                text = _tokens(field_terms)
                if len(text) > _MAX_TERMS_CHARS:
                    raise InputError(
                        f"Một đoạn có {len(field_terms)} từ, quá nhiều cho Milvus; hãy giảm "
                        "HOIDAP_CHUNK_SIZE."
                    )
                row[field] = text
            rows.append(row)
        connection.call(lambda c, rows=rows: getattr(c, method)(name, rows))


def _document_frequencies(terms: Sequence[DocumentTerms]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {field: Counter() for field in _FIELDS}
    for doc in terms:
        for field, field_terms in zip(_FIELDS, doc, strict=True):
            counts[field].update(set(field_terms))
    return {field: dict(c) for field, c in counts.items()}


class MilvusBackend:
    """``IndexBackend`` on Milvus: build or update a collection, load one a build folder names."""

    name = "milvus"
    dense_file = POINTER_FILE

    def __init__(
        self, connection: MilvusConnection, alias: str, spec: IndexSpec, lock: Path | None
    ) -> None:
        """``lock``: the file updates in place take turns through; None: always rebuild."""
        self.connection = connection
        self.alias = alias
        self.spec = spec
        self._lock = lock
        self._update: Update | None = None  # the in-place update not yet published
        self._built: _Collection | None = None  # what that update builds

    def build(
        self,
        vectors: np.ndarray,
        terms: Sequence[DocumentTerms],
        *,
        keys: np.ndarray,
        previous: Path | None,
        k1: float,
        b: float,
    ) -> tuple[MilvusVectorIndex, MilvusKeywordIndex]:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(terms) == len(keys) == len(vectors):
            raise ValueError(f"{len(vectors)} vectors, {len(terms)} terms, {len(keys)} keys")
        keys = passage_keys.unique(np.asarray(keys, dtype=np.int64))
        n, dim = vectors.shape
        kind = self.spec.resolve(n)
        self._finish()  # an update a failed build of this process did not publish
        expected = {"schema": SCHEMA_VERSION, "dim": dim, "kind": kind, "k1": k1, "b": b}
        if self._lock is not None:
            self._update = Update.start(
                self.connection, self.alias, previous, keys, expected, self._lock
            )
        if self._update is not None:
            name, method, write = self._update.collection, "upsert", self._update.fresh
        else:
            name = f"{self.alias}_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}"
            method, write = "insert", np.ones(n, dtype=bool)
            self._create(name, dim, kind, k1, b)
        rows = np.flatnonzero(write)
        _write(self.connection, name, method, vectors[rows], [terms[i] for i in rows], keys[rows])
        self.connection.call(lambda c: c.flush(name))
        stored = self.connection.count(name)
        collection = _Collection(self.connection, name, dim, keys, stored, self.spec, kind, k1, b)
        self._built = collection
        return MilvusVectorIndex(collection), MilvusKeywordIndex(
            collection, _document_frequencies(terms)
        )

    def _create(self, name: str, dim: int, kind: Kind, k1: float, b: float) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        index = MilvusClient.prepare_index_params()
        index.add_index("dense", metric_type="IP", **self._dense_index(kind))
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
                name, schema=schema, index_params=index, consistency_level="Strong"
            )
        )

    def _dense_index(self, kind: Kind) -> dict[str, Any]:
        if kind == "hnsw":
            m = self.spec.hnsw_m
            return {"index_type": "HNSW", "params": {"M": m, "efConstruction": max(40, 2 * m)}}
        if kind == "ivf":
            codec = {"flat": "IVF_FLAT", "sq8": "IVF_SQ8", "pq": "IVF_FLAT"}[self.spec.ivf_codec]
            return {"index_type": codec, "params": {"nlist": MILVUS_LISTS}}
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
            keys = (
                np.load(path.with_name(KEYS_FILE)) if path.with_name(KEYS_FILE).exists() else None
            )
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
        stored = self.connection.count(name)
        if keys is None:  # a build from before row keys: row i is position i
            keys = np.arange(stored, dtype=np.int64)
        if stored < len(keys):
            raise IndexCorruptError(
                f"Bộ sưu tập Milvus {name} có {stored} hàng, chỉ mục cần {len(keys)}. {_REINDEX}"
            )
        k1, b = pointer.get("k1", float("nan")), pointer.get("b", float("nan"))
        collection = _Collection(self.connection, name, dim, keys, stored, self.spec, kind, k1, b)  # type: ignore[arg-type]
        return MilvusVectorIndex(collection)

    def published(self, directory: Path) -> None:
        """Point the alias at this build's collection; drop all but it and the previous one;
        after an update in place, delete the rows this build does not own."""
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
        if self._update is not None and self._update.collection == name:
            self._update.clean(directory, np.load(directory / KEYS_FILE))
            if self._built is not None and self._built.name == name:
                self._built.stored = self.connection.count(name)  # fetch no more than needed
        self._finish()

    def _finish(self) -> None:
        if self._update is not None:
            self._update.release()
        self._update, self._built = None, None
