"""A backend's own no-answer threshold: chosen on validation like the weights' and recorded in
their ``reader.json``, then used when that backend reads (a scripted reader, no model)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import components
from qa.answer.reader import artifact, onnx_reader
from qa.answer.reader.validation import calibrate
from qa.core.types import AnswerSpan
from tests.conftest import make_settings


class LengthReader:
    """A SpanReader whose margin is the question's length: a known spread of margins."""

    def read(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[AnswerSpan]:
        return [AnswerSpan(p, 0, 3, float(len(question)), 0.0) for p in range(len(passages))]


TOPICS = ["huyện biên giới", "dân tộc thiểu số", "vốn chương trình", "trường học"]


def _question(topic: str, q: int) -> str:
    return f"Tỉnh có bao nhiêu {topic}{' nữa' * q}?"


def _squad(path: Path) -> Path:
    data = [
        {
            "title": topic,
            "paragraphs": [
                {
                    "context": f"Tỉnh có 7 {topic}. Báo cáo nói về {topic} năm {2017 + t}.",
                    "qas": [
                        {
                            "id": f"{t}-{q}",
                            "question": _question(topic, q),
                            "answers": [{"text": "Tỉnh", "answer_start": 0}],
                        }
                        for q in range(5)
                    ],
                }
            ],
        }
        for t, topic in enumerate(TOPICS)
    ]
    path.write_text(json.dumps({"data": data}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    shutil.copytree(artifact.WEIGHTS_DIR, folder)
    return folder


def test_calibration_records_the_backends_threshold_beside_the_weights(
    weights: Path, tmp_path: Path
) -> None:
    shipped = artifact.verify(weights)
    updated, report = calibrate(
        LengthReader(), "onnx-int8", weights, shipped, _squad(tmp_path / "v.json"), 20, 13
    )
    lengths = [len(_question(t, q)) for t in TOPICS for q in range(5)]
    assert report.threshold == pytest.approx(np.percentile(lengths, 5), abs=1e-4)
    again = artifact.verify(weights)  # the weights are untouched and still verify
    assert again == updated
    assert again.threshold_for("onnx-int8") == report.threshold
    assert again.threshold_for("onnx") == again.threshold_for("torch") == shipped.threshold
    assert again.training["backend_validation"]["onnx-int8"]["questions"] == 20
    assert again.training["validation"] == shipped.training["validation"]


def test_the_reader_of_a_backend_refuses_at_that_backends_threshold(
    weights: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = artifact.verify(weights)
    artifact.write_manifest(
        replace(manifest, backend_thresholds={"onnx-int8": -9.5}),
        weights,
    )
    monkeypatch.setattr(components, "e5_model_dir", lambda settings: tmp_path)
    monkeypatch.setattr(onnx_reader, "load", lambda *args: LengthReader())

    def threshold(**overrides: object) -> float:
        settings = make_settings(
            tmp_path, reader_weights_dir=weights, reader_refusal="margin", **overrides
        )
        return components.span_reader(settings).threshold

    assert threshold(reader_backend="onnx-int8") == -9.5
    assert threshold(reader_backend="onnx") == manifest.threshold
    assert threshold(reader_backend="onnx-int8", reader_threshold=1.5) == 1.5  # asked for
