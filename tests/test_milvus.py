"""The Milvus backend against a real milvus-lite (no mock): the contracts the local backend
passes, a killed build, and a server that is down, refuses or holds another build.

One milvus-lite server per module (starting one costs seconds), each test under its own alias.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bench.load import free_port
from bench.milvus import LiteServer
from embeddings.hashing import HashEmbedder
from qa import components
from qa.cli import main
from qa.core.errors import IndexCorruptError, IndexUnavailableError
from qa.core.index_data import EmbeddedBuild
from qa.core.protocols import DocumentTerms, VectorBackend
from qa.core.settings import PROJECT_ROOT, Settings
from qa.index.build import build
from qa.index.milvus import MilvusBackend, MilvusVectorIndex
from qa.ingest.loading import load_articles
from qa.pipeline import Pipeline
from tests.conftest import CORPUS, make_settings
from tests.contracts import ANSWERABLE, IndexBackendContract, VectorBackendContract
from web.app import create_app

pytestmark = pytest.mark.milvus


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteServer]:
    lite = LiteServer(tmp_path_factory.mktemp("milvus") / "server")
    lite.start()
    yield lite
    lite.stop()


def _milvus(server: LiteServer, **extra: Any) -> dict[str, Any]:
    alias = f"t{uuid.uuid4().hex[:10]}"
    return {
        "index_backend": "milvus",
        "milvus_uri": server.uri,
        "milvus_collection": alias,
        **extra,
    }


def _backend(settings: dict[str, Any]) -> MilvusBackend:
    backend = components.index_backend(Settings(**settings))
    assert isinstance(backend, MilvusBackend)
    return backend


class TestMilvusBackend(IndexBackendContract):
    @pytest.fixture
    def backend_settings(self, server: LiteServer) -> dict[str, Any]:
        return _milvus(server)


class _DenseHalf:
    """The Milvus backend's dense side as a ``VectorBackend`` (passages without terms)."""

    def __init__(self, backend: MilvusBackend) -> None:
        self._backend = backend

    def build(self, vectors: np.ndarray) -> MilvusVectorIndex:
        terms: list[DocumentTerms] = [([], [])] * len(vectors)
        keys = np.arange(len(vectors), dtype=np.int64)
        dense, _ = self._backend.build(vectors, terms, keys=keys, previous=None, k1=1.2, b=0.75)
        return dense

    def load(self, path: Path, kind: str) -> MilvusVectorIndex:
        return self._backend.load_vectors(path, kind)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
class TestMilvusVectors(VectorBackendContract):
    @pytest.fixture
    def backend(self, server: LiteServer, kind: str) -> VectorBackend:
        return _DenseHalf(_backend(_milvus(server, index_kind=kind)))


def test_the_embedded_file_uri_serves_a_pipeline(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, index_backend="milvus")
    assert settings.milvus_uri == str(tmp_path / "milvus.db")
    pipe = Pipeline(settings, embedder=HashEmbedder())
    pipe.index()
    assert "biên giới" in pipe.search(ANSWERABLE, 1)[0].chunk.text
    first = pipe.data.dense.collection.name
    pipe.index()  # Milvus Lite's BM25 statistics are per segment: no update in place
    assert pipe.data.dense.collection.name != first


def test_the_alias_follows_the_serving_build_and_old_collections_go(
    server: LiteServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, **_milvus(server))
    names = []
    for k1 in (1.2, 1.3, 1.4):  # another BM25 k1 needs another collection
        pipe = Pipeline(settings.model_copy(update={"bm25_k1": k1}), embedder=HashEmbedder())
        pipe.index()
        names.append(pipe.data.dense.collection.name)
    assert len(set(names)) == 3
    client = pipe.backend.connection.call(lambda c: c)
    assert client.describe_alias(settings.milvus_collection)["collection_name"] == names[-1]
    kept = {n for n in client.list_collections() if n.startswith(settings.milvus_collection + "_")}
    assert kept == {names[-2], names[-1]}  # the previous build stays for servers still on it


_KILLED_BUILD = """
import sys, time
from bench.load import free_port
from bench.milvus import LiteServer
from embeddings.hashing import HashEmbedder
from qa.core.settings import Settings
from qa.index import store
from qa.pipeline import Pipeline

def hang(*args, **kwargs):
    print("collection written", flush=True)
    time.sleep(600)

store.save = hang
settings = Settings.model_validate_json(sys.argv[1])
Pipeline(settings, embedder=HashEmbedder()).index()
"""


def test_a_killed_build_leaves_the_previous_collection_serving(
    server: LiteServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, **_milvus(server))
    pipe = Pipeline(settings, embedder=HashEmbedder())
    pipe.index()
    before, serving = pipe.index_dir.resolve(), pipe.data.dense.collection.name
    rebuild = settings.model_copy(update={"bm25_k1": 1.5})  # a new collection, not an update
    build = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, rebuild.model_dump_json()],
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    assert build.stdout is not None and build.stdout.readline() == b"collection written\n"
    build.kill()
    build.wait()
    client = pipe.backend.connection.call(lambda c: c)
    assert (
        len([n for n in client.list_collections() if n.startswith(settings.milvus_collection)]) == 2
    )
    fresh = Pipeline(settings, embedder=HashEmbedder())
    assert fresh.index_dir.resolve() == before
    assert fresh.data.dense.collection.name == serving
    assert "biên giới" in fresh.search(ANSWERABLE, 1)[0].chunk.text
    pipe.index()  # the next build (an update in place) drops what the killed one left
    left = [n for n in client.list_collections() if n.startswith(settings.milvus_collection)]
    assert left == [serving]


def test_a_server_that_is_down_then_back(server: LiteServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **_milvus(server, milvus_timeout=2))
    pipe = Pipeline(settings, embedder=HashEmbedder())
    pipe.index()
    with TestClient(create_app(settings, Pipeline(settings, embedder=HashEmbedder()))) as web:
        assert web.get("/api/search", params={"q": ANSWERABLE}).status_code == 200
        server.stop()
        try:
            down = web.get("/api/search", params={"q": ANSWERABLE})
            assert down.status_code == 503
            assert "HOIDAP_MILVUS_URI" in down.json()["error"]["message"]
            with pytest.raises(IndexUnavailableError, match="HOIDAP_MILVUS_URI"):
                pipe.search(ANSWERABLE)
        finally:
            server.start()
        # gRPC takes a moment to connect again once the port is open
        deadline = time.monotonic() + 30
        while (back := web.get("/api/search", params={"q": ANSWERABLE})).status_code == 503:
            assert time.monotonic() < deadline, back.text
            time.sleep(0.5)
        assert back.status_code == 200
        assert pipe.search(ANSWERABLE)


def test_no_server_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOIDAP_INDEX_BACKEND", "milvus")
    monkeypatch.setenv("HOIDAP_MILVUS_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HOIDAP_MILVUS_TIMEOUT", "1")
    with pytest.raises(SystemExit) as exit_:
        main(["--data-dir", str(tmp_path), "--model", "hash:64", "index", str(CORPUS)])
    _, err = capsys.readouterr()
    assert exit_.value.code == 1
    assert "HOIDAP_MILVUS_URI" in err and "Traceback" not in err
    assert not (tmp_path / "index").exists()


def test_a_build_for_the_other_backend_says_to_reindex(server: LiteServer, tmp_path: Path) -> None:
    Pipeline(make_settings(tmp_path), embedder=HashEmbedder()).index()
    milvus = Pipeline(make_settings(tmp_path, **_milvus(server)), embedder=HashEmbedder())
    with pytest.raises(IndexCorruptError, match="HOIDAP_INDEX_BACKEND=faiss"):
        _ = milvus.data


def test_a_missing_or_changed_collection_says_to_reindex(
    server: LiteServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, **_milvus(server))
    pipe = Pipeline(settings, embedder=HashEmbedder())
    pipe.index()
    name = pipe.data.dense.collection.name
    client = pipe.backend.connection.call(lambda c: c)
    client.drop_alias(settings.milvus_collection)
    client.drop_collection(name)
    with pytest.raises(IndexCorruptError, match=f"{name}.*qa index"):
        _ = Pipeline(settings, embedder=HashEmbedder()).data
    client.create_collection(name, dimension=64)  # the same name, another schema
    with pytest.raises(IndexCorruptError, match=r"Lược đồ.*qa index"):
        _ = Pipeline(settings, embedder=HashEmbedder()).data


def test_switching_backends_or_losing_the_collection_embeds_nothing_again(
    server: LiteServer, tmp_path: Path
) -> None:
    first = Pipeline(make_settings(tmp_path), embedder=HashEmbedder()).index()
    assert first.embedded == first.chunks > 0
    settings = make_settings(tmp_path, **_milvus(server))
    pipe = Pipeline(settings, embedder=HashEmbedder())
    switched = pipe.index()  # the FAISS build's vectors, now in a Milvus collection
    assert (switched.embedded, switched.chunks) == (0, first.chunks)
    assert "biên giới" in pipe.search(ANSWERABLE, 1)[0].chunk.text
    client = pipe.backend.connection.call(lambda c: c)
    client.drop_alias(settings.milvus_collection)
    client.drop_collection(pipe.data.dense.collection.name)
    fresh = Pipeline(settings, embedder=HashEmbedder())
    assert fresh.index().embedded == 0
    assert "biên giới" in fresh.search(ANSWERABLE, 1)[0].chunk.text


# ----- updates in place: only added and changed articles' rows are written -----


def _paragraph_corpus(folder: Path) -> Path:
    """The bundled articles' long paragraphs, one article each (50 articles), so that a few
    changed articles are a small part of the corpus."""
    folder.mkdir()
    paragraphs = [
        line
        for path in sorted(CORPUS.glob("*.txt"))
        for line in path.read_text("utf-8").splitlines()[1:]
        if len(line) > 200
    ]
    for i, text in enumerate(paragraphs):
        (folder / f"b{i:02d}.txt").write_text(f"Bài {i}\n{text}", "utf-8")
    return folder


class _Rows:
    """Counts the rows written through one client (a spy on the real calls, not a mock)."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written = 0
        for method in ("insert", "upsert"):
            real = getattr(client, method)

            def counted(name: str, rows: list, real: Any = real, **kwargs: Any) -> Any:
                self.written += len(rows)
                return real(name, rows, **kwargs)

            monkeypatch.setattr(client, method, counted)


_QUESTIONS = (ANSWERABLE, "dân tộc thiểu số Cao Bằng", "ty le ho ngheo", "Hội nghị sơ kết")


def _results(pipe: Pipeline, fusion: str | None = None) -> list[list[tuple[str, int, int]]]:
    settings = pipe.settings.model_copy(update={"fusion": fusion or pipe.settings.fusion})
    retriever = components.retriever(settings, pipe.data, pipe.embedder)
    return [
        [(h.chunk.article_id, h.chunk.start, h.chunk.end) for h in retriever.retrieve(q, 10)]
        for q in _QUESTIONS
    ]


def _stored_keys(pipe: Pipeline) -> list[int]:
    name = pipe.data.dense.collection.name
    client = pipe.backend.connection.call(lambda c: c)
    return sorted(r["id"] for r in client.query(name, filter="id >= 0", limit=16_384))


def _assert_as_fresh(pipe: Pipeline, server: LiteServer, tmp_path: Path) -> None:
    """The collection holds exactly the rows a build from nothing writes, and searches find
    what that build finds."""
    fresh = pipe.settings.model_copy(
        update={"data_dir": tmp_path / "fresh", "milvus_collection": f"t{uuid.uuid4().hex[:10]}"}
    )
    other = Pipeline(fresh, embedder=HashEmbedder())
    other.index()
    assert _stored_keys(pipe) == _stored_keys(other) == sorted(pipe.data.dense.collection.keys)
    assert _results(pipe, "dense") == _results(other, "dense")
    # milvus-lite keeps BM25 statistics per segment (an update's rows are a segment of their
    # own) and counts deleted rows until it compacts, so keyword scores move by a few per cent
    # (README, Quality): the best passage stays, the top 10 nearly
    for mine, theirs in zip(_results(pipe), _results(other), strict=True):
        assert mine[0] == theirs[0] and len(set(mine) & set(theirs)) >= 8


@pytest.fixture
def updating(server: LiteServer, tmp_path: Path) -> Pipeline:
    articles = _paragraph_corpus(tmp_path / "articles")
    settings = make_settings(tmp_path / "data", **_milvus(server), articles=[articles])
    pipe = Pipeline(settings, embedder=HashEmbedder())
    pipe.index()
    return pipe


def test_a_changed_article_writes_only_its_rows(
    updating: Pipeline, server: LiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    serving = pipe.data.dense.collection.name
    client = pipe.backend.connection.call(lambda c: c)
    rows = _Rows(client, monkeypatch)
    (corpus / "b07.txt").write_text("Bài 7\nHợp tác xã chè Shan tuyết ở Hà Giang.", "utf-8")
    report = pipe.index()
    assert report.changed == ["b07"] and report.embedded == 1
    assert rows.written == 1  # the one passage of the changed article, nothing else
    assert pipe.data.dense.collection.name == serving
    assert pipe.backend.connection.count(serving) == report.chunks  # its old rows are deleted
    assert pipe.search("chè Shan tuyết", 1)[0].chunk.article_id == "b07"
    _assert_as_fresh(pipe, server, tmp_path)


def test_a_removed_articles_rows_are_gone_after_publishing(
    updating: Pipeline, server: LiteServer, tmp_path: Path
) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    data = pipe.data
    removed = [data.dense.collection.keys[c.id] for c in data.chunks if c.article_id == "b03"]
    (corpus / "b03.txt").unlink()
    report = pipe.index()
    assert report.removed == ["b03"]
    name = pipe.data.dense.collection.name
    assert name == data.dense.collection.name
    client = pipe.backend.connection.call(lambda c: c)
    assert client.query(name, filter=f"id in {[int(k) for k in removed]}") == []
    assert pipe.backend.connection.count(name) == report.chunks
    _assert_as_fresh(pipe, server, tmp_path)
    again = Pipeline(pipe.settings, embedder=HashEmbedder())
    assert _results(again) == _results(pipe)


def test_most_articles_changed_builds_a_new_collection(updating: Pipeline) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    serving = pipe.data.dense.collection.name
    for path in sorted(corpus.glob("*.txt"))[:30]:
        path.write_text(path.read_text("utf-8") + " Cập nhật.", "utf-8")
    pipe.index()
    assert pipe.data.dense.collection.name != serving
    assert "biên giới" in pipe.search(ANSWERABLE, 1)[0].chunk.text


def test_another_update_under_way_means_a_new_collection(updating: Pipeline) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    serving = pipe.data.dense.collection.name
    lock = pipe.settings.data_dir / f"milvus-{pipe.settings.milvus_collection}.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        (corpus / "b07.txt").write_text("Bài 7\nHợp tác xã chè Shan tuyết.", "utf-8")
        pipe.index()
    assert pipe.data.dense.collection.name != serving
    assert pipe.search("chè Shan tuyết", 1)[0].chunk.article_id == "b07"


def test_a_killed_update_leaves_the_previous_build_serving_and_the_next_repairs(
    updating: Pipeline, server: LiteServer, tmp_path: Path
) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    before, serving, answers = (
        pipe.index_dir.resolve(),
        pipe.data.dense.collection.name,
        _results(pipe),
    )
    original = (corpus / "b07.txt").read_text("utf-8")
    (corpus / "b07.txt").write_text("Bài 7\nHợp tác xã chè Shan tuyết.", "utf-8")
    build = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, pipe.settings.model_dump_json()],
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    assert build.stdout is not None and build.stdout.readline() == b"collection written\n"
    build.kill()
    build.wait()
    chunks = pipe.data.manifest.chunk_count
    assert pipe.backend.connection.count(serving) == chunks + 1  # the killed update's row
    fresh = Pipeline(pipe.settings, embedder=HashEmbedder())
    assert fresh.index_dir.resolve() == before and _results(fresh) == answers
    # the article goes back as it was and another changes: the killed row is nobody's now
    (corpus / "b07.txt").write_text(original, "utf-8")
    (corpus / "b08.txt").write_text("Bài 8\nCá tầm ở Sa Pa.", "utf-8")
    report = pipe.index()
    assert report.changed == ["b08"] and pipe.data.dense.collection.name == serving
    assert pipe.backend.connection.count(serving) == report.chunks
    _assert_as_fresh(pipe, server, tmp_path)


def test_an_update_from_a_build_another_update_replaced_rebuilds(updating: Pipeline) -> None:
    pipe, corpus = updating, updating.settings.articles[0]
    serving, folder = pipe.data, pipe.index_dir.resolve()  # this pipeline keeps it on disk
    # another process updates in place first (it may delete rows the first build relies on)
    (corpus / "b07.txt").write_text("Bài 7\nHợp tác xã chè Shan tuyết.", "utf-8")
    other = Pipeline(pipe.settings, embedder=HashEmbedder())
    other.index()
    assert other.data.dense.collection.name == serving.dense.collection.name
    # this process still starts from the build it served before
    previous = EmbeddedBuild(
        serving.manifest, serving.articles, serving.chunks, serving.vectors, folder
    )
    s = pipe.settings
    data, _ = build(
        load_articles([corpus]),
        chunker=pipe.chunker,
        embedder=pipe.embedder,
        backend=pipe.backend,
        chunk_size=s.chunk_size,
        chunk_overlap=s.chunk_overlap,
        k1=s.bm25_k1,
        b=s.bm25_b,
        previous=previous,
    )
    assert data.dense.collection.name != serving.dense.collection.name  # type: ignore[attr-defined]
