from qa.ingest.loading import load_articles
from qa.text.acronyms import COMMON, learn, merged
from tests.conftest import CORPUS


def test_definitions_are_learned_from_the_bundled_corpus() -> None:
    learned = learn(a.text for a in load_articles([CORPUS]))
    assert learned["mtqg"] == "mục tiêu quốc gia"
    assert learned["dtts&mn"] == "dân tộc thiểu số và miền núi"


def test_long_form_is_the_nearest_run_whose_initials_match() -> None:
    text = "Hỗ trợ đồng bào dân tộc thiểu số (DTTS) ở vùng cao."
    assert learn([text]) == {"dtts": "dân tộc thiểu số"}


def test_brackets_without_a_matching_long_form_teach_nothing() -> None:
    assert learn(["Hội nghị (năm 2022) tại huyện (XYZ)."]) == {}


def test_corpus_definitions_override_common_ones() -> None:
    table = merged({"ubnd": "ủy ban nhân dân huyện"})
    assert table["ubnd"] == "ủy ban nhân dân huyện"
    assert table["hđnd"] == COMMON["hđnd"]
