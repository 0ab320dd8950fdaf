from pathlib import Path

import pytest

from qa.ingest.loading import load_articles
from qa.text.acronyms import COMMON, learn, load_table, merged
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


def test_the_common_table_is_broad_and_national() -> None:
    for short, long_form in {
        "bhxh": "bảo hiểm xã hội",
        "bhyt": "bảo hiểm y tế",
        "thpt": "trung học phổ thông",
        "gd&đt": "giáo dục và đào tạo",
        "nn&ptnt": "nông nghiệp và phát triển nông thôn",
        "lđ-tb&xh": "lao động - thương binh và xã hội",
        "ubnd": "ủy ban nhân dân",
        "hđnd": "hội đồng nhân dân",
        "mttq": "mặt trận tổ quốc",
    }.items():
        assert COMMON[short] == long_form
    assert len(COMMON) >= 80


def test_table_lines_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.tsv"
    good.write_text("# comment\n\nBHXH\tBảo hiểm xã hội\n", "utf-8")
    assert load_table(good) == {"bhxh": "bảo hiểm xã hội"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("BHXH bảo hiểm xã hội\n", "utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:1"):
        load_table(bad)
