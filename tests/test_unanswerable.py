"""`qa eval make-unanswerable`: gold-removed questions, and searching as if an article were gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eval.eval_set import load_set
from eval.runner import run_set
from eval.unanswerable import TAG, gold_removed_rows
from qa.cli import cli
from qa.core.settings import PROJECT_ROOT
from qa.pipeline import Pipeline

BUNDLED = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"


def test_rows_remove_each_questions_gold_articles() -> None:
    eval_set = load_set(BUNDLED)
    rows = gold_removed_rows(eval_set)
    by_id = {q.id: q for q in eval_set.questions}
    assert rows
    for row in rows:
        source = by_id[row["id"].removesuffix(f"~{TAG}")]
        assert source.answerable and not source.turns
        assert row["answerable"] is False and row["removed_article_ids"] == list(source.article_ids)
        assert TAG in row["tags"]


def test_search_with_an_article_excluded_never_returns_it(pipeline: Pipeline) -> None:
    question = "Cao Bằng có bao nhiêu huyện biên giới?"
    first = pipeline.search(question, k=5)
    gone = first[0].chunk.article_id
    hits = pipeline.search(question, k=5, exclude={gone})
    assert len(hits) == 5 and all(h.chunk.article_id != gone for h in hits)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    kept = [h.chunk.id for h in pipeline.search(question, k=50) if h.chunk.article_id != gone]
    assert [h.chunk.id for h in hits] == kept[:5]


def test_a_name_only_the_removed_article_uses_is_unknown_as_if_it_were_gone(
    pipeline: Pipeline,
) -> None:
    """A corpus without the article would not know the name: the eval must not either."""
    question = "Đồng chí Hoàng Minh Ái giữ chức vụ gì?"
    owner = next(a.id for a in pipeline.articles() if "Hoàng Minh Ái" in a.text)
    assert not pipeline.ask(question).refused
    answer = pipeline.ask(question, exclude={owner})
    assert answer.refused and any("Hoàng Minh Ái" in note for note in answer.notes)
    names = pipeline.data.names
    kept = pipeline._without({owner}).names
    assert "hoang minh ai" in names and "hoang minh ai" not in kept
    assert kept < names and "cao bang" in kept  # names other articles use stay known
    assert pipeline.data.names == names  # the index itself is untouched


def test_the_made_set_runs_and_counts_refusals(pipeline: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "gone.jsonl"
    result = CliRunner().invoke(cli, ["eval", "make-unanswerable", str(BUNDLED), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert f"{len(lines)} câu hỏi" in result.output
    assert all(json.loads(line)["answerable"] is False for line in lines)
    again = CliRunner().invoke(cli, ["eval", "make-unanswerable", str(BUNDLED), "--out", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    summary = run_set(pipeline, load_set(out), k=5)["summary"]
    assert summary["unanswerable"] == len(lines)
    assert summary["refusal_recall"] is not None


@pytest.mark.parametrize("removed", [[], ["000_9a3428ac41f124c4"]])
def test_removed_article_ids_are_read_from_a_set(tmp_path: Path, removed: list[str]) -> None:
    path = tmp_path / "s.jsonl"
    row = {"id": "x", "question": "Câu hỏi?", "answerable": False, "removed_article_ids": removed}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_set(path).questions[0].removed_article_ids == tuple(removed)
