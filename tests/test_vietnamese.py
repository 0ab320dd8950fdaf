import json
import subprocess
import sys

import pytest

from qa.text.terms import document_terms, query_terms
from qa.text.vietnamese import capitalized_names, fold, has_diacritics, nfc, normalize, segment
from tests.conftest import CORPUS


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hoá", "hóa"),
        ("Thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("chuẩn hoá", "chuẩn hóa"),
        ("hoà", "hòa"),
    ],
)
def test_old_and_new_tone_placement_normalize_alike(old: str, new: str) -> None:
    assert normalize(old) == normalize(new) == new


@pytest.mark.parametrize("word", ["quý", "hoàn", "thuyền", "khoa"])
def test_words_with_one_placement_are_unchanged(word: str) -> None:
    assert normalize(word) == word


def test_nfc_joins_decomposed_marks() -> None:
    decomposed = "Vie\u0323\u0302t Nam"
    assert nfc(decomposed) == "Việt Nam"
    assert normalize(decomposed) == "việt nam"


def test_fold_removes_every_diacritic() -> None:
    assert fold("Đồng bào DÂN TỘC thiểu số") == "dong bao dan toc thieu so"


def test_has_diacritics() -> None:
    assert has_diacritics("tỷ lệ")
    assert not has_diacritics("ty le nguoi dan toc 94,88%")


def test_segment_joins_syllables_of_a_word() -> None:
    assert "dân_tộc_thiểu_số" in [normalize(w) for w in segment("người dân tộc thiểu số")]


def test_document_terms_have_syllables_and_words_in_both_keys() -> None:
    accented, folded = document_terms("Tỷ lệ người dân tộc thiểu số")
    assert {"tỷ", "lệ", "tỷ_lệ"} <= set(accented)
    assert {"ty", "le", "ty_le"} <= set(folded)


def test_unaccented_query_uses_folded_terms_and_corpus_words() -> None:
    terms = query_terms("ty le nguoi dan toc", {}, {"ty_le", "dan_toc"})
    assert terms.folded
    assert {"ty", "le", "ty_le", "dan_toc"} <= set(terms.terms)


def test_accented_query_drops_question_words() -> None:
    terms = query_terms("Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?", {}, set())
    assert not terms.folded
    assert "bao_nhiêu" not in terms.terms and "là" not in terms.terms
    assert "dtts" in terms.terms


def test_acronym_in_query_adds_long_form_and_back() -> None:
    acronyms = {"dtts": "dân tộc thiểu số"}
    assert "dân_tộc_thiểu_số" in query_terms("Người DTTS", acronyms, set()).terms
    assert "dtts" in query_terms("người dân tộc thiểu số", acronyms, set()).terms


def test_capitalized_names_skip_the_first_word_and_punctuation() -> None:
    assert capitalized_names("Tỉnh đó (DTTS, Cao Bằng) có gì?") == ["DTTS", "Cao Bằng"]
    assert capitalized_names("Ở Bắc Kạn thì sao?") == ["Bắc Kạn"]


def _segment_in_a_fresh_process(texts: list[str], import_sklearn_first: bool) -> dict:
    script = (
        "import json, sys\n"
        + ("import sklearn\n" if import_sklearn_first else "")
        + "from qa.text.vietnamese import segment\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps({'words': [segment(t) for t in texts],"
        " 'sklearn': 'sklearn' in sys.modules, 'scipy': 'scipy' in sys.modules}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


def test_pyvi_segments_alike_without_scikit_learn() -> None:
    texts = [
        p.strip()
        for path in sorted(CORPUS.glob("*.txt"))[:2]
        for p in path.read_text("utf-8").split("\n")
        if p.strip()
    ][:40]
    alone = _segment_in_a_fresh_process(texts, import_sklearn_first=False)
    beside = _segment_in_a_fresh_process(texts, import_sklearn_first=True)
    assert not alone["sklearn"] and not alone["scipy"]  # most of pyvi's start-up, not needed
    assert alone["words"] == beside["words"]
