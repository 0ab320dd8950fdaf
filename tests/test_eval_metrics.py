"""eval.metrics: hand-computed cases, ties, empty answers and refusals."""

from __future__ import annotations

import math
import unicodedata

import pytest

from eval import metrics


def test_normalize_answer_folds_case_punctuation_tone_marks_and_nfd() -> None:
    nfd = unicodedata.normalize("NFD", "Hoà Bình")
    assert metrics.normalize_answer(f"  {nfd}!!  (Thuỷ)  ") == "hòa bình thủy"
    assert metrics.normalize_answer("94,88%") == "94 88"
    assert metrics.normalize_answer("...") == ""


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("Bắc Kạn.", ["bắc kạn"], 1.0),
        ("Hoà Bình", ["Hòa Bình"], 1.0),  # old and new tone-mark placement
        ("Bắc Kạn", ["Cao Bằng", "Bắc  Kạn"], 1.0),
        ("tỉnh Bắc Kạn", ["Bắc Kạn"], 0.0),
        ("", ["Bắc Kạn"], 0.0),  # a refusal is the empty answer
        ("", [], 1.0),  # no gold answer: only the empty answer matches
        ("Bắc Kạn", [], 0.0),
    ],
)
def test_exact_match(prediction: str, golds: list[str], expected: float) -> None:
    assert metrics.exact_match(prediction, golds) == expected


def test_token_f1_hand_computed() -> None:
    # 4 predicted tokens, 5 gold tokens, 4 shared: p = 1, r = 4/5, F1 = 8/9
    assert metrics.token_f1("Triệu Thị Thu Phương", ["Bà Triệu Thị Thu Phương"]) == pytest.approx(
        8 / 9
    )
    # repeated tokens count once per occurrence: shared {a: 1, b: 1} -> p = r = 2/3
    assert metrics.token_f1("a a b", ["a b b"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("x y", ["z"]) == 0.0


def test_token_f1_takes_the_best_gold_and_ties_give_the_same_score() -> None:
    assert metrics.token_f1("hà nội", ["hà", "nội"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("hà nội", ["hà", "hà nội"]) == 1.0


def test_token_f1_empty_answers_and_refusals() -> None:
    assert metrics.token_f1("", ["Bắc Kạn"]) == 0.0
    assert metrics.token_f1("!!", ["Bắc Kạn"]) == 0.0
    assert metrics.token_f1("", []) == 1.0
    assert metrics.token_f1("Bắc Kạn", []) == 0.0


def test_answer_contained_matches_whole_words_only() -> None:
    assert metrics.answer_contained("Ông Kiên Ninh là Trưởng Ban.", ["kiên ninh"]) == 1.0
    assert metrics.answer_contained("có 120 người", ["12"]) == 0.0
    assert metrics.answer_contained("chiếm 94,88% dân số", ["94,88%"]) == 1.0
    assert metrics.answer_contained("bất kỳ", []) == 0.0
    assert metrics.answer_contained("", ["x"]) == 0.0


def test_first_occurrences_gives_no_gain_to_a_second_hit_of_the_same_item() -> None:
    assert metrics.first_occurrences(["a", None, "a", "b"]) == [True, False, False, True]
    assert metrics.first_occurrences([]) == []


def test_recall_at_k() -> None:
    gains = [False, True, False, True]
    assert metrics.recall_at_k(gains, 2, 1) == 0.0
    assert metrics.recall_at_k(gains, 2, 2) == 0.5
    assert metrics.recall_at_k(gains, 2, 10) == 1.0
    assert metrics.recall_at_k(gains, 0, 10) == 0.0


def test_reciprocal_rank() -> None:
    assert metrics.reciprocal_rank([False, False, True], 10) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank([False, False, True], 2) == 0.0
    assert metrics.reciprocal_rank([], 10) == 0.0


def test_ndcg_hand_computed() -> None:
    assert metrics.ndcg_at_k([False, True], 1, 10) == pytest.approx(1 / math.log2(3))
    # dcg = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert metrics.ndcg_at_k([True, False, True], 2, 10) == pytest.approx(
        1.5 / (1 + 1 / math.log2(3))
    )
    assert metrics.ndcg_at_k([True, True], 3, 2) == 1.0  # more relevant items than k
    assert metrics.ndcg_at_k([False], 0, 10) == 0.0


def test_spans_overlap_is_half_open() -> None:
    assert metrics.spans_overlap((0, 5), (4, 8))
    assert metrics.spans_overlap((2, 3), (0, 10))
    assert not metrics.spans_overlap((0, 5), (5, 8))


def test_refusal_scores() -> None:
    refused = [True, True, False, False]
    unanswerable = [True, False, True, False]
    assert metrics.refusal_scores(refused, unanswerable) == (0.5, 0.5)
    assert metrics.refusal_scores([False, False], [True, False]) == (None, 0.0)
    assert metrics.refusal_scores([True], [False]) == (0.0, None)


def test_mean_ignores_undefined_values() -> None:
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None


def test_percentile_interpolates_like_numpy() -> None:
    assert metrics.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert metrics.percentile([5.0, 5.0, 5.0, 1.0], 50) == 5.0  # ties
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None
