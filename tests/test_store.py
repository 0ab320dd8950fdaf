import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.hashing import HashEmbedder
from qa.core.errors import IndexCorruptError, IndexMissingError, InputError
from qa.core.settings import PROJECT_ROOT
from qa.pipeline import Pipeline
from tests.conftest import CORPUS, make_settings


def _pipeline(data_dir: Path) -> Pipeline:
    return Pipeline(make_settings(data_dir), embedder=HashEmbedder())


def test_missing_index_says_to_run_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="qa index"):
        _ = _pipeline(tmp_path).data


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").write_text("{not json"), "manifest"),
        (lambda d: (d / "vectors.npy").unlink(), "hỏng hoặc thiếu"),
        (lambda d: (d / "chunks.jsonl").write_text('[0, "x", 0, 1]\n'), "hỏng hoặc thiếu"),
        (lambda d: (d / "dense.faiss").write_bytes(b"garbage"), "hỏng"),
    ],
)
def test_damaged_index_says_to_reindex(pipeline: Pipeline, damage, message: str) -> None:
    build = pipeline.index_dir.resolve()
    damage(build)
    with pytest.raises(IndexCorruptError, match=message):
        _ = _pipeline(pipeline.settings.data_dir).data


def test_index_of_another_model_or_format_says_to_reindex(pipeline: Pipeline) -> None:
    other = Pipeline(pipeline.settings, embedder=HashEmbedder(32))
    with pytest.raises(IndexCorruptError, match="mô hình"):
        _ = other.data
    manifest = pipeline.index_dir / "manifest.json"
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "format_version": 999}))
    with pytest.raises(IndexCorruptError, match="định dạng"):
        _ = _pipeline(pipeline.settings.data_dir).data


def test_reindexing_embeds_only_what_changed(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(CORPUS, corpus)
    pipe = _pipeline(tmp_path / "data")
    first = pipe.index([corpus])
    assert len(first.added) == 5 and first.embedded == first.chunks

    (corpus / "004_eb0597a851750997.txt").write_text("Bài mới\nMột câu hoàn toàn mới.", "utf-8")
    (corpus / "003_39cab0024c364b55.txt").unlink()
    (corpus / "new.txt").write_text("Bài thêm\nNội dung bài thêm vào kho.", "utf-8")
    second = pipe.index([corpus])
    assert second.changed == ["004_eb0597a851750997"]
    assert second.removed == ["003_39cab0024c364b55"]
    assert second.added == ["new"]
    assert len(second.unchanged) == 3
    assert second.embedded == 2  # one chunk for each changed or added article
    assert "003_39cab0024c364b55" not in {a.id for a in pipe.articles()}
    hits = pipe.search("dân tộc thiểu số", 50)
    assert hits and all(h.chunk.article_id != "003_39cab0024c364b55" for h in hits)


def _share_their_articles_text(pipe: Pipeline) -> bool:
    data = pipe.data
    return bool(data.chunks) and all(
        c.article_text is data.articles[c.article_id].text
        and c.text == data.articles[c.article_id].text[c.start : c.end]
        for c in data.chunks
    )


def test_passages_hold_their_articles_text_not_a_copy(tmp_path: Path) -> None:
    corpus = tmp_path / "articles"
    shutil.copytree(CORPUS, corpus)
    pipe = _pipeline(tmp_path / "data")
    pipe.index([corpus])
    assert _share_their_articles_text(pipe)  # as built
    (corpus / "new.txt").write_text("Bài thêm\nNội dung bài thêm vào kho.", "utf-8")
    pipe.index([corpus])
    assert _share_their_articles_text(pipe)  # unchanged articles' passages reused
    assert _share_their_articles_text(_pipeline(tmp_path / "data"))  # as loaded from disk


def test_failed_indexing_leaves_the_previous_index_serving(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    before = pipeline.index_dir.resolve()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_bytes("Tiêu đề\nnội dung".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-8"):
        pipeline.index([bad])
    assert pipeline.index_dir.resolve() == before
    assert _pipeline(pipeline.settings.data_dir).search("Cao Bằng", 1)


def test_a_crash_while_saving_leaves_no_partial_build(pipeline: Pipeline, monkeypatch) -> None:
    before = pipeline.index_dir.resolve()

    def explode(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("qa.index.bm25.BM25Index.save", explode)
    with pytest.raises(OSError, match="disk full"):
        pipeline.index()
    assert pipeline.index_dir.resolve() == before
    builds = [p for p in (pipeline.settings.data_dir / "builds").iterdir() if p.is_dir()]
    assert builds == [before]


def test_each_stored_vector_is_its_own_chunks_embedding(pipeline: Pipeline) -> None:
    """Passages are embedded in length order across the corpus; rows must not move."""
    data = pipeline.data
    lengths = [len(c.text) for c in data.chunks]
    assert lengths != sorted(lengths)  # the order differs from the chunks', so this tests it
    expected = HashEmbedder().embed_passages([c.text for c in data.chunks])
    assert (data.vectors == expected).all()


# a build that stops while writing its partial folder, as one killed there would
_STOPPED_BUILD = """
import sys, time
from embeddings.hashing import HashEmbedder
from qa.core.settings import Settings
from qa.index.bm25 import BM25Index
from qa.pipeline import Pipeline

def stop(*args, **kwargs):
    print("writing", flush=True)
    time.sleep(600)

BM25Index.save = stop
settings = Settings.model_validate_json(sys.argv[1])
Pipeline(settings, embedder=HashEmbedder()).index()
"""


@pytest.fixture
def writing(pipeline: Pipeline) -> Iterator[subprocess.Popen[bytes]]:
    """Another process in the middle of writing a build of the same data folder."""
    build = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_BUILD, pipeline.settings.model_dump_json()],
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    try:
        assert build.stdout is not None and build.stdout.readline() == b"writing\n"
        yield build
    finally:
        build.kill()
        build.wait()


def _entries(pipeline: Pipeline) -> set[str]:
    return {p.name for p in (pipeline.settings.data_dir / "builds").iterdir()}


def _partials(pipeline: Pipeline) -> list[str]:
    return [name for name in _entries(pipeline) if name.endswith(".partial")]


def test_a_killed_build_is_removed_by_the_next_build(
    pipeline: Pipeline, writing: subprocess.Popen[bytes]
) -> None:
    [left] = _partials(pipeline)
    writing.kill()
    writing.wait()
    seen: list[list[str]] = []  # the partial folders while the next build runs
    pipeline.index(on_progress=lambda *_: seen.append(_partials(pipeline)))
    assert seen and seen[0] == []
    current = pipeline.index_dir.resolve().name
    assert _entries(pipeline) == {current, f"{current}.lock"}
    assert left.removesuffix(".partial") + ".lock" not in _entries(pipeline)


def test_a_build_another_process_is_writing_is_kept(
    pipeline: Pipeline, writing: subprocess.Popen[bytes]
) -> None:
    [live] = _partials(pipeline)
    pipeline.index()
    pipeline.index()
    assert _partials(pipeline) == [live]
    assert writing.poll() is None
    writing.kill()
    writing.wait()
    pipeline.index()
    assert _partials(pipeline) == []


def test_a_build_another_server_serves_is_kept_until_it_moves_on(pipeline: Pipeline) -> None:
    server = _pipeline(pipeline.settings.data_dir)
    served = server.index_dir.resolve()
    assert server.search("Cao Bằng", 1)
    pipeline.index()
    pipeline.index()
    builds = pipeline.settings.data_dir / "builds"
    assert served.is_dir()
    assert sorted(p for p in builds.iterdir() if p.is_dir()) == sorted(
        [served, pipeline.index_dir.resolve()]
    )
    assert server.search("Cao Bằng", 1)  # the server moves to the new build
    pipeline.index()
    assert not served.exists()
