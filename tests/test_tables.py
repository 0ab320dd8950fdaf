"""A loaded build's article and passage tables behave as the dict and list of the build itself."""

import shutil
from pathlib import Path

import pytest

from embeddings.hashing import HashEmbedder
from qa.core.errors import IndexCorruptError
from qa.index import tables
from qa.pipeline import Pipeline
from tests.conftest import CORPUS, make_settings


def _built_and_loaded(tmp_path: Path) -> tuple[Pipeline, Pipeline]:
    corpus = tmp_path / "articles"
    shutil.copytree(CORPUS, corpus)
    (corpus / "new.txt").write_text("Bài thêm\nNội dung bài thêm vào kho.", "utf-8")
    built = Pipeline(make_settings(tmp_path / "data"), embedder=HashEmbedder())
    built.index([corpus])
    return built, Pipeline(make_settings(tmp_path / "data"), embedder=HashEmbedder())


def _same_as_built(built: Pipeline, loaded: Pipeline) -> None:
    want, got = built.data, loaded.data
    assert isinstance(got.articles, tables.ArticleFile)
    assert isinstance(got.chunks, tables.ChunkTable)
    assert list(got.articles) == list(want.articles)  # ids, in the build's order
    assert list(got.articles.values()) == list(want.articles.values())
    assert list(got.articles.items()) == list(want.articles.items())
    assert len(got.articles) == len(want.articles) == 6
    for article_id, article in want.articles.items():
        assert got.articles[article_id] == article
        assert article_id in got.articles
    assert list(got.chunks) == list(want.chunks)
    assert len(got.chunks) == len(want.chunks) > len(want.articles)
    assert got.chunks[-1] == want.chunks[-1]
    assert got.chunks[1:4] == list(want.chunks[1:4])
    for chunk in got.chunks:
        assert chunk.text == got.articles[chunk.article_id].text[chunk.start : chunk.end]


def test_loaded_tables_hold_what_the_build_held(tmp_path: Path) -> None:
    built, loaded = _built_and_loaded(tmp_path)
    _same_as_built(built, loaded)
    articles = loaded.data.articles
    assert "no-such-article" not in articles
    assert articles.get("no-such-article") is None
    with pytest.raises(KeyError):
        _ = articles["no-such-article"]
    with pytest.raises(IndexError):
        _ = loaded.data.chunks[len(loaded.data.chunks)]
    assert loaded.search("dân tộc thiểu số", 3)  # hits are made from the tables


def test_ids_whose_hashes_collide_are_told_apart(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "_key", lambda article_id: 7)  # every id in one bucket
    built, loaded = _built_and_loaded(tmp_path)
    _same_as_built(built, loaded)
    assert "no-such-article" not in loaded.data.articles


@pytest.mark.parametrize(
    ("damage", "file"),
    [
        (lambda text: text[: len(text) // 2], "articles.jsonl"),  # cut mid-line
        (lambda text: text.replace("[0,", "[5,", 1), "chunks.jsonl"),  # ids out of order
        (lambda text: text.replace('"new"', '"gone"', 1), "chunks.jsonl"),  # no such article
    ],
)
def test_a_damaged_table_says_to_reindex(tmp_path: Path, damage, file: str) -> None:
    built, _ = _built_and_loaded(tmp_path)
    path = built.index_dir.resolve() / file
    path.write_text(damage(path.read_text("utf-8")), "utf-8")
    with pytest.raises(IndexCorruptError, match="qa index"):
        _ = Pipeline(make_settings(tmp_path / "data"), embedder=HashEmbedder()).data
