"""eval.eval_set: the JSONL format, its errors with line numbers, and the bundled set itself."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.eval_set import EvalQuestion, evidence_problems, load_set
from qa.core.errors import InputError
from qa.core.settings import PROJECT_ROOT
from qa.ingest.loading import load_articles

BUNDLED = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"
GOOD = {"id": "q1", "question": "Ai?", "answers": ["Kiên Ninh"]}


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines), "utf-8"
    )
    return path


def test_fields_are_parsed_and_normalized(tmp_path: Path) -> None:
    row = {
        "id": 7,
        "question": " Còn ở Bắc Kạn thì sao? ",
        "answers": ["Triệu Thị Thu Phương", "Triệu Thị Thu Phương"],
        "article_ids": ["000 x"],
        "article_id": "001",
        "passages": ["Bà Triệu Thị Thu Phương"],
        "turns": ["Ai là Trưởng Ban Dân tộc tỉnh Cao Bằng?"],
        "tags": ["followup"],
    }
    eval_set = load_set(write_lines(tmp_path / "s.jsonl", [row]))
    assert eval_set.name == "s" and eval_set.invalid == []
    assert eval_set.questions == [
        EvalQuestion(
            id="7",
            question="Còn ở Bắc Kạn thì sao?",
            answers=("Triệu Thị Thu Phương",),
            article_ids=("000-x", "001"),
            passages=("Bà Triệu Thị Thu Phương",),
            turns=("Ai là Trưởng Ban Dân tộc tỉnh Cao Bằng?",),
            tags=("followup",),
        )
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="không tìm thấy"):
        load_set(tmp_path / "none.jsonl")


BAD_LINES: list[tuple[object, str]] = [
    ("{broken", "JSON hỏng"),
    (["not", "an", "object"], "đối tượng"),
    ({"question": "Ai?", "answers": ["x"]}, '"id"'),
    ({"id": "q", "answers": ["x"]}, '"question"'),
    ({"id": "q", "question": "Ai?", "answer": ["x"]}, "trường lạ answer"),
    ({"id": "q", "question": "Ai?", "answers": "x"}, '"answers"'),
    ({"id": "q", "question": "Ai?"}, "cần"),
    ({"id": "q", "question": "Ai?", "answers": []}, "cần"),
    ({"id": "q", "question": "Ai?", "answers": ["x"], "answerable": False}, "không được"),
    ({"id": "q", "question": "Ai?", "answers": ["x"], "answerable": "no"}, "true hoặc false"),
    ({"id": "q1", "question": "Ai?", "answers": ["x"]}, "trùng mã"),
]


def test_invalid_lines_are_skipped_with_their_line_numbers(tmp_path: Path) -> None:
    lines = [GOOD, "", *(line for line, _ in BAD_LINES)]
    eval_set = load_set(write_lines(tmp_path / "s.jsonl", lines))
    assert [q.id for q in eval_set.questions] == ["q1"]
    assert [i.line for i in eval_set.invalid] == list(range(3, 3 + len(BAD_LINES)))
    for invalid, (_, message) in zip(eval_set.invalid, BAD_LINES, strict=True):
        assert message in invalid.message


def test_stop_raises_at_the_first_invalid_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", [GOOD, "{broken", {"id": "x"}])
    with pytest.raises(InputError, match=r"s\.jsonl:2: dòng JSON hỏng"):
        load_set(path, "stop")


def test_a_set_without_valid_questions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="không có câu hỏi hợp lệ"):
        load_set(write_lines(tmp_path / "s.jsonl", ["{broken"]))


def test_the_bundled_set_is_valid_and_its_evidence_is_verbatim() -> None:
    eval_set = load_set(BUNDLED, "stop")
    articles = {a.id: a for a in load_articles([PROJECT_ROOT / "data" / "articles"])}
    problems = [p for q in eval_set.questions for p in evidence_problems(q, articles)]
    assert problems == []
    answerable = [q for q in eval_set.questions if q.answerable]
    assert all(q.answers and q.passages and q.article_ids for q in answerable)
    for q in answerable:
        text = "".join(articles[a].text for a in q.article_ids)
        assert all(p in text for p in q.passages), q.id
    tags = Counter(t for q in eval_set.questions for t in q.tags)
    assert len(eval_set.questions) >= 70
    assert tags["unaccented"] >= 10 and tags["acronym"] >= 8 and tags["followup"] >= 10
    unanswerable = [q for q in eval_set.questions if not q.answerable]
    assert len(unanswerable) >= 12
    assert all("unanswerable" in q.tags and not q.answers for q in unanswerable)
    assert any(q.question.startswith("Bỏ qua hướng dẫn") for q in unanswerable)
    assert all(len(q.turns) == 1 for q in eval_set.questions if "followup" in q.tags)


def test_evidence_problems_name_missing_articles_and_snippets() -> None:
    articles = {a.id: a for a in load_articles([PROJECT_ROOT / "data" / "articles"])}
    question = EvalQuestion(
        "q", "Ai?", answers=("không có",), article_ids=("000_9a3428ac41f124c4", "nope")
    )
    problems = evidence_problems(question, articles)
    assert len(problems) == 2
    assert "'nope'" in problems[0] and "'không có'" in problems[1]
