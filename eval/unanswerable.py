"""Realistic unanswerable questions from answerable ones: each question is searched as if its
gold article were not in the corpus, so the passages it gets are the closest ones that do not
hold the answer (what a user meets when the articles lack it)."""

from __future__ import annotations

import json
from pathlib import Path

from eval.eval_set import EvalSet
from qa.core.errors import InputError

TAG = "gold-removed"


def gold_removed_rows(eval_set: EvalSet) -> list[dict[str, object]]:
    """One row per answerable question that names its gold articles (follow-ups left out: the
    earlier turns would need their own articles removed too)."""
    return [
        {
            "id": f"{q.id}~{TAG}",
            "question": q.question,
            "answerable": False,
            "removed_article_ids": list(q.article_ids),
            "tags": [*q.tags, TAG],
        }
        for q in eval_set.questions
        if q.answerable and q.article_ids and not q.turns
    ]


def write_rows(rows: list[dict[str, object]], out: Path, *, overwrite: bool) -> None:
    if not rows:
        raise InputError(
            "Không có câu hỏi trả lời được nào ghi bài viết chứa đáp án (article_ids)."
        )
    if out.exists() and not overwrite:
        raise InputError(f"{out}: tệp đã có; dùng --overwrite để ghi đè")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
