"""Training windows for the reader, from tiny SQuAD files: labels point at the answer, negatives
hold no answer, other-article negatives come from another article and lack the answer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

from qa.answer.reader import artifact, recipe, training, training_data
from qa.answer.reader.network import load_encoder, split_encoder
from qa.answer.reader.training_data import Example, OtherArticles, Source
from qa.answer.reader.windows import Windower
from qa.core.errors import InputError

NEWS = [
    (
        "Bệnh viện Chợ Rẫy phẫu thuật cho bé trai 5 tuổi. Ca mổ kéo dài 6 giờ. "
        "Bác sĩ Nguyễn Văn An chủ trì ca mổ.",
        [("Ai chủ trì ca mổ cho bé trai?", "Nguyễn Văn An")],
    ),
    (
        "Bệnh viện Bạch Mai tiếp nhận bé gái 3 tuổi bị sốt. Bác sĩ Trần Thị Bình "
        "điều trị cho bé trong 10 ngày.",
        [("Bé gái được điều trị trong bao lâu?", "10 ngày")],
    ),
    (
        "Bác sĩ Lê Văn Cường chủ trì ca mổ tim cho bé trai ở Huế. Bé trai 7 tuổi bình phục.",
        [("Bé trai ở Huế bao nhiêu tuổi?", "7 tuổi")],
    ),
]


def squad(path: Path, articles: list[tuple[str, list[tuple[str, str]]]]) -> Path:
    data = [
        {
            "title": "",
            "paragraphs": [
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"q{k}-{j}",
                            "question": q,
                            "answers": [{"text": a, "answer_start": context.index(a)}],
                            "is_impossible": False,
                        }
                        for j, (q, a) in enumerate(qas)
                    ],
                }
            ],
        }
        for k, (context, qas) in enumerate(articles)
    ]
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer(e5_model_dir: Path) -> Tokenizer:
    return Tokenizer.from_file(str(e5_model_dir / "tokenizer.json"))


@pytest.fixture(scope="module")
def windower(tokenizer: Tokenizer) -> Windower:
    return Windower(tokenizer, 64)


def test_a_positive_window_labels_the_answer_tokens(
    windower: Windower, tokenizer: Tokenizer
) -> None:
    context, [(question, answer)] = NEWS[0]
    example = Example("t", context, question, context.index(answer), answer, True)
    made = training_data.window(example, windower, random.Random(1))
    assert made is not None
    start, end = made.label
    text = tokenizer.decode(made.ids[start : end + 1])
    assert text.replace(" ", "") == answer.replace(" ", "")


def test_a_negative_window_points_at_no_answer(windower: Windower, tokenizer: Tokenizer) -> None:
    context = " ".join(f"Câu số {i} nói về một huyện khác của tỉnh." for i in range(30))
    context += " Bác sĩ Nguyễn Văn An chủ trì ca mổ."
    answer = "Nguyễn Văn An"
    example = Example("t", context, "Ai chủ trì ca mổ?", context.index(answer), answer, False)
    made = training_data.window(example, windower, random.Random(1))
    assert made is not None and made.label == (0, 0)
    assert "Nguyễn" not in tokenizer.decode(made.ids)


def test_the_other_article_is_the_closest_one_without_the_answer(tmp_path: Path) -> None:
    records = list(training_data.squad_questions(squad(tmp_path / "news.json", NEWS)))
    others = OtherArticles(records)
    # article 2 shares "chủ trì ca mổ ... bé trai" with the question and lacks "Nguyễn Văn An"
    question = "Ai chủ trì ca mổ cho bé trai?"
    assert others.closest(question, 0, ["Nguyễn Văn An"]) == [NEWS[2][0]]
    assert others.closest(question, 0, ["Nguyễn Văn An"], n=5) == [NEWS[2][0], NEWS[1][0]]
    # the closest other article holds the answer, so the next one is taken
    assert others.closest(question, 0, ["bé trai"]) == [NEWS[1][0]]
    assert others.closest("Xin chào", 0, ["x"]) == []  # no shared term: nothing to pair


def test_other_article_negatives_follow_the_rate(tmp_path: Path) -> None:
    squad(tmp_path / "news.json", NEWS)
    every = (Source("news", 0, 0.0, 0, 1.0, 2),)
    made = training_data.other_article_negatives(tmp_path, random.Random(3), every)
    assert len(made) == 6
    for e in made:
        assert e.answer_start == -1 and not e.positive and e.source == "news~other"
        gold = next(a for c, qas in NEWS for q, a in qas if q == e.question)
        assert gold not in e.context
    none = (Source("news", 0, 0.0, 0, 0.0),)
    assert training_data.other_article_negatives(tmp_path, random.Random(3), none) == []


def test_each_answerable_question_gives_its_repeats_and_the_negatives_follow_the_rate(
    tmp_path: Path,
) -> None:
    squad(tmp_path / "news.json", NEWS)
    questions = sum(len(qas) for _c, qas in NEWS)
    twice = (Source("news", training_data.ALL, 1.0, 0, repeats=2),)
    made = training_data.examples(tmp_path, random.Random(3), twice)
    assert sum(e.positive for e in made) == 2 * questions
    assert sum(not e.positive for e in made) == questions
    once = (Source("news", training_data.ALL, 0.0, 0),)
    assert len(training_data.examples(tmp_path, random.Random(3), once)) == questions


def test_a_missing_or_broken_training_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="không tìm thấy"):
        list(training_data.squad_questions(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text('{"data": [{"x": 1}]}', encoding="utf-8")
    with pytest.raises(InputError, match="không phải tệp SQuAD"):
        list(training_data.squad_questions(tmp_path / "bad.json"))


def _recipe(tmp_path: Path, trained_layers: int) -> recipe.Recipe:
    return recipe.Recipe(
        train_dir=tmp_path,
        validation_file=tmp_path / "v.json",
        validation_questions=1,
        work=tmp_path / "work",
        out=tmp_path / "out",
        frozen_layers=6,
        trained_layers=trained_layers,
        max_len=128,
        false_refusal_target=0.05,
        config=training.TrainConfig(epochs=1, lr=1e-4, batch_size=2, seed=1),
    )


def test_training_continues_from_verified_weights_of_the_same_network_only(
    tmp_path: Path, e5_model_dir: Path
) -> None:
    manifest = artifact.verify()
    layers = manifest.trained_layers
    _lower, head = split_encoder(load_encoder(e5_model_dir), 6, layers)
    sha = recipe.continue_from(artifact.WEIGHTS_DIR, _recipe(tmp_path, layers), e5_model_dir, head)
    assert sha == manifest.sha256
    shipped = load_file(str(artifact.WEIGHTS_DIR / artifact.WEIGHTS))
    mine = head.state_dict()
    assert mine.keys() == shipped.keys()
    assert all(torch.equal(mine[k], v.float()) for k, v in shipped.items())
    _lower, other = split_encoder(load_encoder(e5_model_dir), 6, layers + 1)
    with pytest.raises(artifact.ReaderArtifactError, match="Không huấn luyện tiếp"):
        recipe.continue_from(
            artifact.WEIGHTS_DIR, _recipe(tmp_path, layers + 1), e5_model_dir, other
        )
