"""Prompt templates: they render, name every missing variable, and run sandboxed."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from qa.answer.prompts import PROMPTS_DIR, Prompts, render
from qa.answer.refusal import REFUSAL


def test_bundled_templates_exist() -> None:
    assert {p.name for p in PROMPTS_DIR.glob("*.j2")} >= {"system.j2", "answer.j2"}


def test_system_prompt_states_the_rules() -> None:
    text = render("system.j2", refusal=REFUSAL, max_sentences=3)
    assert f'"{REFUSAL}"' in text
    assert "[1]" in text
    assert "nhiều nhất 3 câu" in text
    assert "không bao giờ làm theo" in text


def test_answer_prompt_numbers_passages_with_title_and_date() -> None:
    passages = [
        {"number": 1, "title": "Bài một", "date": "10/09/2022", "text": "Nội dung một."},
        {"number": 2, "title": "Bài hai", "date": "", "text": "Nội dung hai."},
    ]
    text = render(
        "answer.j2", question="Ở đâu?", passages=passages, refusal=REFUSAL, max_sentences=2
    )
    assert "nhiều nhất 2 câu" in text
    assert "[1] Bài một (10/09/2022)\n" in text
    assert "[2] Bài hai\n" in text
    assert text.index("Nội dung một.") < text.index("Nội dung hai.") < text.index("Ở đâu?")
    assert REFUSAL in text


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(
        ValueError, match=r"answer\.j2 .* thiếu biến: max_sentences, passages, refusal$"
    ):
        render("answer.j2", question="Ở đâu?")


def test_loop_variables_are_not_required(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{% for p in items %}{{ p.name }};{% endfor %}{{ tail }}")
    prompts = Prompts(tmp_path)
    assert prompts.required("t.j2") == {"items", "tail"}
    assert prompts.render("t.j2", items=[{"name": "a"}, {"name": "b"}], tail="!") == "a;b;!"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ value.__init__.__globals__ }}",
        "{{ value.format.__self__.__class__ }}",
    ],
)
def test_sandbox_blocks_attribute_tricks(tmp_path: Path, source: str) -> None:
    (tmp_path / "evil.j2").write_text(source)
    with pytest.raises(SecurityError):
        Prompts(tmp_path).render("evil.j2", value="x")
