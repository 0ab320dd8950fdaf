"""Diacritics restored to an unaccented question from the passages it is asked about."""

from qa.text.accents import restore

PASSAGE = (
    "Theo ông Bế Văn Hùng, Trưởng Ban Dân tộc tỉnh Cao Bằng, tỷ lệ người DTTS chiếm 94,88%, "
    "với 35 dân tộc cùng sinh sống."
)


def test_words_found_in_the_passages_take_their_accents() -> None:
    assert restore("ty le nguoi DTTS o Cao Bang la bao nhieu", [PASSAGE]) == (
        "tỷ lệ người DTTS ở Cao Bằng là bao nhiêu"
    )


def test_capitals_and_punctuation_are_kept_and_unknown_words_stay_as_typed() -> None:
    assert restore("Cao Bang co xyz khong?", [PASSAGE]) == "Cao Bằng có xyz khong?"


def test_a_question_with_diacritics_is_left_alone() -> None:
    assert restore("Tỷ lệ o Cao Bang?", [PASSAGE]) == "Tỷ lệ o Cao Bang?"


def test_no_passages_only_common_words() -> None:
    assert restore("ai la chu tich", []) == "ai là chu tich"
