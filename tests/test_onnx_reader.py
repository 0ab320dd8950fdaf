"""The reader on ONNX Runtime: its files (keyed by the weights' sha256 and the e5 build marker,
checked on load) with a stand-in network (fast), then the shipped reader exported (marked):
logits beside torch's, and `qa ask` on the ONNX backends without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings import onnx_export
from qa import components
from qa.answer.reader import artifact
from qa.answer.reader import onnx_export as reader_onnx
from qa.answer.reader.onnx_reader import OnnxReader
from qa.answer.reader.windows import Windower, pad_batch, read_spans
from qa.core.errors import ModelError
from qa.core.settings import PROJECT_ROOT, Settings
from qa.pipeline import Pipeline
from tests.conftest import clear_hoidap_environment

PASSAGE = (
    "Cao Bằng là tỉnh miền núi ở Đông Bắc. Tỉnh có 7 huyện biên giới giáp Trung Quốc. "
    "Tỷ lệ người dân tộc thiểu số chiếm 94,88% dân số."
)


def _stand_in(out: Path) -> None:
    """A network with the reader's inputs and outputs: the logits are the ids and the mask."""
    import onnx
    from onnx import TensorProto, helper

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input_ids"], ["start_logits"], to=TensorProto.FLOAT),
            helper.make_node("Cast", ["attention_mask"], ["end_logits"], to=TensorProto.FLOAT),
        ],
        "stand_in",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, dims)
            for n in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, dims) for n in reader_onnx.OUTPUTS],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx_export.OPSET)])
    onnx.save(model, str(out))


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every export writes the stand-in network; the list holds the weights' sha256 of each."""
    done: list[str] = []

    def export(
        model_dir: Path, directory: Path, manifest: artifact.ReaderManifest, out: Path
    ) -> None:
        done.append(manifest.sha256)
        _stand_in(out)

    monkeypatch.setattr(reader_onnx, "_export", export)
    return done


@pytest.fixture
def e5_folder(tmp_path: Path) -> Path:
    """An e5 folder as far as the export's bookkeeping sees it: its name and build marker."""
    folder = tmp_path / artifact.read_manifest().base_model
    folder.mkdir()
    (folder / onnx_export.SOURCE_MARKER).write_text(json.dumps({"build": 1}))
    return folder


def test_files_are_built_once_per_weights_and_e5_build(exports: list[str], e5_folder: Path) -> None:
    manifest = artifact.read_manifest()
    for variant in ("onnx", "onnx-int8", "onnx"):
        path = reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, variant)
        assert path.parent == reader_onnx.onnx_folder(e5_folder, manifest)
    assert exports == [manifest.sha256]  # built once, then reused
    folder = reader_onnx.onnx_folder(e5_folder, manifest)
    recorded = json.loads((folder / onnx_export.MANIFEST).read_text())["source"]
    assert recorded["reader_sha256"] == manifest.sha256 and recorded["e5"] == {"build": 1}

    other = replace(manifest, sha256="0" * 64)  # retrained weights: a folder of their own
    path = reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, other, "onnx")
    assert path.parent != folder and path.parent.name.startswith(e5_folder.name)
    (e5_folder / onnx_export.SOURCE_MARKER).write_text(json.dumps({"build": 2}))
    reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, "onnx")
    assert exports == [manifest.sha256, other.sha256, manifest.sha256]


def test_a_changed_file_is_refused(exports: list[str], e5_folder: Path) -> None:
    manifest = artifact.read_manifest()
    path = reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, "onnx-int8")
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ModelError, match="sha256"):
        reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, "onnx-int8")


def test_weights_for_another_base_model_are_not_exported(
    exports: list[str], e5_folder: Path
) -> None:
    manifest = replace(artifact.read_manifest(), base_model="another-model")
    with pytest.raises(artifact.ReaderArtifactError, match="another-model"):
        reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, "onnx")
    assert exports == []


def test_the_onnx_reader_reads_every_window_through_its_file(
    exports: list[str], e5_folder: Path
) -> None:
    """Same windows and best spans as ``read_spans`` over the network's function in numpy."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for w in (PASSAGE + " query: huyện nào?").split()})
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    windower = Windower(tokenizer, max_len=16)
    manifest = artifact.read_manifest()
    path = reader_onnx.ensure_reader_onnx(e5_folder, artifact.WEIGHTS_DIR, manifest, "onnx")
    reader = OnnxReader(path, windower, threads=1)
    passages, starts = [PASSAGE, PASSAGE[40:]], [[0, 37], [0]]
    spans = reader.read("huyện nào?", passages, starts)

    def stand_in(ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ids.astype(np.float32), mask.astype(np.float32)

    assert spans == read_spans(windower, stand_in, "huyện nào?", passages, starts)
    assert len(spans) > len(passages)  # more than one window per passage
    assert all(0 <= s.start < s.end <= len(passages[s.passage]) for s in spans)


@pytest.mark.parametrize(
    ("backend", "resolved"),
    [("auto", components.AUTO_READER_BACKEND), ("torch", "torch"), ("onnx", "onnx")],
)
def test_backend_choice(backend: str, resolved: str) -> None:
    settings = Settings(reader_backend=backend)  # type: ignore[arg-type]
    assert components.reader_backend(settings) == resolved


@pytest.fixture(scope="module")
def readers(e5_model_dir: Path) -> dict[str, object]:
    """The shipped reader on each backend, its ONNX files exported into the session's cache."""
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: the autouse fixture is too late
        clear_hoidap_environment(mp)
        settings = [
            Settings(model_cache_dir=e5_model_dir.parent, reader_backend=backend)
            for backend in ("torch", "onnx", "onnx-int8")
        ]
    return {s.reader_backend: components.span_reader(s).reader for s in settings}


@pytest.mark.model
def test_onnx_logits_match_torch(readers: dict[str, object]) -> None:
    torch_reader = readers["torch"]
    windows = torch_reader.windower.windows(  # type: ignore[attr-defined]
        "Cao Bằng có bao nhiêu huyện biên giới?", [PASSAGE, PASSAGE[:60]], [[0], [0]]
    )
    ids, mask = pad_batch([w.ids for w in windows], torch_reader.windower.pad)  # type: ignore[attr-defined]
    logits = {b: np.stack(r.logits(ids, mask)) for b, r in readers.items()}  # type: ignore[attr-defined]
    real = np.broadcast_to(mask.astype(bool), logits["torch"].shape)
    assert np.abs(logits["onnx"] - logits["torch"])[real].max() < 1e-3
    # int8 moves logits by a few units, so it refuses at its own threshold and its quality is
    # the validation's to judge (model card); its spans pass the reader contract tests
    question = "Cao Bằng có bao nhiêu huyện biên giới?"
    spans = {b: readers[b].read(question, [PASSAGE], [[0]]) for b in ("torch", "onnx")}  # type: ignore[attr-defined]
    assert [(s.start, s.end) for s in spans["onnx"]] == [(s.start, s.end) for s in spans["torch"]]
    scores = {b: np.array([(s.score, s.null) for s in spans[b]]) for b in spans}
    np.testing.assert_allclose(scores["onnx"], scores["torch"], atol=2e-3)
    best = {b: max(spans[b], key=lambda x: x.margin) for b in ("torch", "onnx")}
    assert (best["onnx"].start, best["onnx"].end) == (best["torch"].start, best["torch"].end)


_NO_TORCH = """
import json, sys
from qa.core.settings import Settings
from qa.pipeline import Pipeline
answer = Pipeline(Settings()).ask(sys.argv[1])
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"answerer": answer.answerer, "refused": answer.refused, "heavy": heavy}))
"""


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_asking_on_the_onnx_backends_imports_no_torch(
    real: Pipeline, readers: dict[str, object], backend: str
) -> None:
    """The ONNX files exist (``readers`` exported them): a fresh process answers without torch."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT_ROOT),
        "HOIDAP_DATA_DIR": str(real.settings.data_dir),
        "HOIDAP_MODEL_CACHE_DIR": str(real.settings.model_cache_dir),
        "HOIDAP_ANSWERER": "reader",
        "HOIDAP_EMBED_BACKEND": backend,
        "HOIDAP_READER_BACKEND": backend,
    }
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, "Cao Bằng có bao nhiêu huyện biên giới?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"answerer": "reader", "refused": False, "heavy": []}
