"""ONNX export, int8 quantization, the manifest's sha256 check and the OnnxEmbedder, on a tiny
random BERT folder (seconds); the real default model's files are checked under the model marker.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import onnx_export
from embeddings.onnx_embedder import OnnxEmbedder
from qa import components
from qa.core.errors import ModelError
from qa.core.protocols import Embedder
from qa.core.settings import DEFAULT_MODEL, Settings
from tests.contracts import TEXTS, EmbedderContract

_WORDS = sorted(
    {w for t in TEXTS for w in t.lower().replace(",", " ").replace(".", " ").split()}
    | {"query", "passage", ":"}
)


def make_tiny_model(folder: Path) -> Path:
    """A random 2-layer BERT as a sentence-transformers folder (mean pooling, Normalize), with
    a word-level tokenizer and the build marker hoidap's own model folders carry."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    BertModel(config).save_pretrained(str(folder))
    files = {
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
        },
        "sentence_bert_config.json": {"max_seq_length": 16, "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "1_Pooling/config.json": {
            "word_embedding_dimension": 32,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_cls_token": False,
            "include_prompt": True,
        },
        onnx_export.SOURCE_MARKER: {"tiny": 1},
    }
    for name, content in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    (folder / "2_Normalize").mkdir()
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model folder with its ONNX files built (read-only: copy before changing)."""
    folder = make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
    onnx_export.ensure_onnx_model(folder, "onnx")
    return folder


def _embedder(folder: Path, variant: str, batch_size: int = 2) -> OnnxEmbedder:
    return OnnxEmbedder(
        onnx_export.verified_file(onnx_export.onnx_dir(folder), variant),
        folder,
        name="tiny",
        batch_size=batch_size,
        query_prefix="query: ",
        passage_prefix="passage: ",
        threads=1,
    )


def test_export_writes_both_files_and_their_sha256(tiny: Path) -> None:
    folder = onnx_export.onnx_dir(tiny)
    manifest = json.loads((folder / onnx_export.MANIFEST).read_text())
    assert manifest["source"] == {"tiny": 1}
    graphs = set(onnx_export.FILES.values())
    assert set(manifest["files"]) == graphs | {g + onnx_export.WEIGHTS_SUFFIX for g in graphs}
    for name, digest in manifest["files"].items():
        assert onnx_export.sha256_of(folder / name) == digest
    assert not [p for p in tiny.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_int8_weights_are_quantized(tiny: Path) -> None:
    import onnx

    folder = onnx_export.onnx_dir(tiny)
    ops = {n.op_type for n in onnx.load(str(folder / onnx_export.FILES["onnx-int8"])).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}
    fp32_ops = {n.op_type for n in onnx.load(str(folder / onnx_export.FILES["onnx"])).graph.node}
    assert "MatMulInteger" not in fp32_ops


def test_a_complete_build_is_reused(tiny: Path) -> None:
    folder = onnx_export.onnx_dir(tiny)

    def built() -> dict[str, int]:
        names = {*onnx_export.FILES.values(), onnx_export.MANIFEST}
        return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name in names}

    before = built()
    onnx_export.ensure_onnx_model(tiny, "onnx-int8")
    assert built() == before


def test_a_file_hashed_once_is_not_hashed_again_until_it_changes(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = tmp_path / "tiny-onnx"
    shutil.copytree(onnx_export.onnx_dir(tiny), folder)
    monkeypatch.setattr(onnx_export, "_SETTLED_NS", 0)  # stamp files written a moment ago
    hashed: list[str] = []
    real = onnx_export.sha256_of
    monkeypatch.setattr(onnx_export, "sha256_of", lambda p: hashed.append(p.name) or real(p))
    onnx_export.verified_file(folder, "onnx-int8")
    onnx_export.verified_file(folder, "onnx-int8")
    int8_name = onnx_export.FILES["onnx-int8"]
    # the second load trusted the stamps of the graph and of its weights
    assert hashed == [int8_name, int8_name + onnx_export.WEIGHTS_SUFFIX]
    int8 = folder / onnx_export.FILES["onnx-int8"]
    data = bytearray(int8.read_bytes())
    data[-1] ^= 0xFF
    int8.write_bytes(bytes(data))  # same size; its times and the stamp's differ
    with pytest.raises(ModelError, match="sha256"):
        onnx_export.verified_file(folder, "onnx-int8")


def test_a_file_changed_moments_ago_gets_no_stamp(tiny: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "fresh-onnx"
    shutil.copytree(onnx_export.onnx_dir(tiny), folder)  # written just now
    onnx_export.verified_file(folder, "onnx")
    assert not (folder / (onnx_export.FILES["onnx"] + onnx_export.STAMP_SUFFIX)).exists()


def test_a_changed_file_is_refused_with_how_to_rebuild(tiny: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "tiny"
    shutil.copytree(tiny, model)
    shutil.copytree(onnx_export.onnx_dir(tiny), onnx_export.onnx_dir(model))
    int8 = onnx_export.onnx_dir(model) / onnx_export.FILES["onnx-int8"]
    data = bytearray(int8.read_bytes())
    data[-1] ^= 0xFF
    int8.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"sha256.*delete .*tiny-onnx.* rebuild"):
        onnx_export.ensure_onnx_model(model, "onnx-int8")
    onnx_export.verified_file(onnx_export.onnx_dir(model), "onnx")  # the other one is intact


def test_changed_weights_beside_a_graph_are_refused(tiny: Path, tmp_path: Path) -> None:
    import shutil

    import onnx

    folder = tmp_path / "tiny-onnx"
    shutil.copytree(onnx_export.onnx_dir(tiny), folder)
    graph = folder / onnx_export.FILES["onnx"]
    model = onnx.load(str(graph), load_external_data=False)
    assert all(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    weights = graph.with_name(graph.name + onnx_export.WEIGHTS_SUFFIX)
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"model.onnx.data has sha256"):
        onnx_export.verified_file(folder, "onnx")


def test_a_rebuilt_model_folder_gets_new_files(tiny: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "tiny"
    shutil.copytree(tiny, model)
    shutil.copytree(onnx_export.onnx_dir(tiny), onnx_export.onnx_dir(model))
    (model / onnx_export.SOURCE_MARKER).write_text(json.dumps({"tiny": 2}))
    onnx_export.ensure_onnx_model(model, "onnx")
    manifest = json.loads((onnx_export.onnx_dir(model) / onnx_export.MANIFEST).read_text())
    assert manifest["source"] == {"tiny": 2}


def test_a_folder_without_marker_is_not_exported(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"hoidap-build\.json"):
        onnx_export.ensure_onnx_model(tmp_path, "onnx")


def test_onnx_matches_sentence_transformers(tiny: Path) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(tiny), device="cpu").encode(
        ["passage: " + t for t in TEXTS], normalize_embeddings=True
    )
    np.testing.assert_allclose(_embedder(tiny, "onnx").embed_passages(TEXTS), reference, atol=1e-5)
    int8 = _embedder(tiny, "onnx-int8").embed_passages(TEXTS)
    assert (int8 * reference).sum(axis=1).min() > 0.95


def test_batches_do_not_change_vectors(tiny: Path) -> None:
    """Length-sorted batches of any size give each text the vector it gets alone."""
    texts = [*TEXTS, "cao bằng", TEXTS[0] * 3]  # the last one is truncated to 16 tokens
    alone = np.stack([_embedder(tiny, "onnx", 1).embed_passages([t])[0] for t in texts])
    for size in (2, 3, 64):
        np.testing.assert_allclose(
            _embedder(tiny, "onnx", size).embed_passages(texts), alone, atol=1e-5
        )


def test_query_uses_the_query_prefix(tiny: Path) -> None:
    embedder = _embedder(tiny, "onnx")
    query = embedder.embed_query(TEXTS[0])
    assert not np.allclose(query, embedder.embed_passages([TEXTS[0]])[0])
    embedder._passage_prefix = "query: "
    np.testing.assert_allclose(query, embedder.embed_passages([TEXTS[0]])[0], atol=1e-6)


def test_other_pooling_is_refused(tiny: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "tiny"
    shutil.copytree(tiny, model)
    shutil.copytree(onnx_export.onnx_dir(tiny), onnx_export.onnx_dir(model))
    (model / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    with pytest.raises(ModelError, match="mean pooling"):
        _embedder(model, "onnx")


class TestOnnxEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, tiny: Path) -> Embedder:
        return _embedder(tiny, "onnx-int8")

    @pytest.fixture
    def embedder_code(self, tiny: Path) -> str:
        return (
            "from pathlib import Path\n"
            "from tests.test_onnx import _embedder\n"
            f"embedder = _embedder(Path({str(tiny)!r}), 'onnx-int8')"
        )


@pytest.mark.parametrize(
    ("model", "backend", "resolved"),
    [
        (DEFAULT_MODEL, "auto", "onnx-int8"),
        (DEFAULT_MODEL, "torch", "torch"),
        (DEFAULT_MODEL, "onnx", "onnx"),
        ("some/other-model", "auto", "torch"),
        ("hash:64", "onnx-int8", "onnx-int8"),
    ],
)
def test_backend_choice(model: str, backend: str, resolved: str) -> None:
    settings = Settings(model=model, embed_backend=backend)  # type: ignore[arg-type]
    assert components.embed_backend(settings) == resolved


def test_onnx_for_another_model_is_refused() -> None:
    with pytest.raises(ValueError, match="default model only"):
        Settings(model="some/other-model", embed_backend="onnx-int8")


def test_hash_model_ignores_the_backend() -> None:
    embedder = components.embedder(Settings(model="hash:32", embed_backend="onnx-int8"))
    assert embedder.name == "hash:32"


@pytest.fixture(scope="session")
def e5_int8(e5_model_dir: Path) -> Embedder:
    return components.embedder(
        Settings(model_cache_dir=e5_model_dir.parent, embed_backend="onnx-int8")
    )


@pytest.mark.model
class TestDefaultModelInt8(EmbedderContract):
    @pytest.fixture
    def embedder(self, e5_int8: Embedder) -> Embedder:
        return e5_int8

    @pytest.fixture
    def embedder_code(self, e5_model_dir: Path) -> str:
        return (
            "from qa import components\n"
            "from qa.core.settings import Settings\n"
            f"embedder = components.embedder(Settings(model_cache_dir={str(e5_model_dir.parent)!r}, "
            "embed_backend='onnx-int8'))"
        )

    def test_agrees_with_torch_and_shares_its_index(self, e5_int8: Embedder, real) -> None:  # type: ignore[no-untyped-def]
        """int8 vectors stay close to torch's, under the same model name: one index is searched
        with either backend's query vectors without re-indexing."""
        torch = components.embedder(real.settings.model_copy(update={"embed_backend": "torch"}))
        cosines = (e5_int8.embed_passages(TEXTS) * torch.embed_passages(TEXTS)).sum(axis=1)
        assert cosines.min() > 0.98
        assert e5_int8.name == torch.name == real.data.manifest.model
        query = "Cao Bằng có bao nhiêu huyện biên giới?"
        tops = [
            [
                h.chunk.id
                for h in components.retriever(real.settings, real.data, e).retrieve(query, 5)
            ]
            for e in (torch, e5_int8)
        ]
        assert tops[0][0] == tops[1][0]
        assert len(set(tops[0]) & set(tops[1])) >= 4


def test_a_long_text_is_cut_as_the_tokenizer_itself_cuts_it(tiny: Path) -> None:
    # the embedder shares its tokenizer with the reader, so it truncates on its own; the
    # vectors must be those of the tokenizer's own truncation (max_seq_length 16)
    from tokenizers import Tokenizer

    from embeddings.tokenizer import shared_tokenizer

    embedder = _embedder(tiny, "onnx")
    words = " ".join([w for w in _WORDS if w.isalpha()][:30])  # each its own token
    own = Tokenizer.from_file(str(tiny / "tokenizer.json"))
    own.enable_truncation(16)
    tokens = own.encode("passage: " + words).tokens
    assert len(tokens) == 16
    cut = " ".join(tokens[3:-1])  # the words after [CLS] "passage" ":" that still fit
    assert len(cut.split()) < len(words.split())
    np.testing.assert_allclose(
        embedder.embed_passages([words]), embedder.embed_passages([cut]), atol=1e-6
    )
    assert shared_tokenizer(tiny / "tokenizer.json").truncation is None
