"""Eval sets: JSONL questions with their gold answers and evidence, loaded and validated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from qa.core.errors import InputError
from qa.core.types import Article
from qa.ingest.loading import article_id
from qa.text.vietnamese import nfc

OnInvalid = Literal["skip", "stop"]
FIELDS = (
    "id",
    "question",
    "answers",
    "article_ids",
    "article_id",
    "passages",
    "answerable",
    "turns",
    "tags",
    "removed_article_ids",
)


@dataclass(frozen=True)
class EvalQuestion:
    """One question; ``turns`` are earlier user questions of the same conversation."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    passages: tuple[str, ...] = ()
    answerable: bool = True
    turns: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # articles searched as if they were not in the corpus ("gold article removed" questions)
    removed_article_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvalidLine:
    line: int
    message: str


@dataclass
class EvalSet:
    name: str
    path: Path
    questions: list[EvalQuestion]
    invalid: list[InvalidLine] = field(default_factory=list)
    # problems in the source that did not drop a question, e.g. SQuAD answers not in their context
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    retrieval_only: bool = False


def _strings(row: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f'trường "{key}" phải là danh sách chuỗi không rỗng')
    return tuple(dict.fromkeys(nfc(v).strip() for v in value))


def parse_question(row: object) -> EvalQuestion:
    """One JSONL row as a question; any problem is an ``InputError`` naming the field."""
    if not isinstance(row, dict):
        raise InputError("mỗi dòng phải là một đối tượng JSON")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise InputError(f"trường lạ {', '.join(unknown)} (cho phép: {', '.join(FIELDS)})")
    raw_id = row.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise InputError('thiếu trường "id" (chuỗi hoặc số)')
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError('thiếu trường "question" (chuỗi không rỗng)')
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        raise InputError('trường "answerable" phải là true hoặc false')
    single = row.get("article_id")
    if single is not None and (not isinstance(single, str) or not single.strip()):
        raise InputError('trường "article_id" phải là chuỗi không rỗng')
    raw_articles = _strings(row, "article_ids") + ((single,) if single else ())
    answers, passages = _strings(row, "answers"), _strings(row, "passages")
    if answerable and not answers and not passages:
        raise InputError('câu hỏi trả lời được cần "answers" hoặc "passages"')
    if not answerable and (answers or passages):
        raise InputError('câu hỏi "answerable": false không được có "answers" hay "passages"')
    return EvalQuestion(
        id=str(raw_id).strip(),
        question=nfc(question).strip(),
        answers=answers,
        article_ids=tuple(dict.fromkeys(article_id(a) for a in raw_articles)),
        passages=passages,
        answerable=answerable,
        turns=_strings(row, "turns"),
        tags=_strings(row, "tags"),
        removed_article_ids=tuple(article_id(a) for a in _strings(row, "removed_article_ids")),
    )


def load_set(path: Path, on_invalid: OnInvalid = "skip") -> EvalSet:
    """Every valid question of a JSONL file; invalid lines are kept with their line numbers
    (``skip``) or stop the load at the first one (``stop``)."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: không tìm thấy tệp bộ câu hỏi") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: không đọc được tệp bộ câu hỏi ({exc})") from exc
    questions: list[EvalQuestion] = []
    invalid: list[InvalidLine] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                question = parse_question(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"dòng JSON hỏng ({exc.msg}, cột {exc.colno})") from exc
            if question.id in seen:
                raise InputError(f"trùng mã câu hỏi {question.id!r}")
        except InputError as exc:
            if on_invalid == "stop":
                raise InputError(f"{path}:{number}: {exc}") from exc
            invalid.append(InvalidLine(number, str(exc)))
            continue
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise InputError(f"{path}: không có câu hỏi hợp lệ nào ({len(invalid)} dòng lỗi)")
    return EvalSet(name=path.stem, path=path, questions=questions, invalid=invalid)


def evidence_problems(question: EvalQuestion, articles: Mapping[str, Article]) -> list[str]:
    """Gold article ids missing from ``articles``, and gold answers or passages that do not
    occur verbatim in any of the question's gold articles."""
    problems = [
        f"{question.id}: bài viết {a!r} không có trong chỉ mục"
        for a in question.article_ids
        if a not in articles
    ]
    texts = [articles[a].text for a in question.article_ids if a in articles]
    if texts:
        problems.extend(
            f"{question.id}: {snippet!r} không xuất hiện nguyên văn trong bài viết"
            for snippet in question.answers + question.passages
            if not any(snippet in text for text in texts)
        )
    return problems
