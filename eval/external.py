"""External benchmarks: SQuAD files, BEIR folders and article files, each indexed into a data
dir of its own (``DATA_DIR/eval-index/<hash of the corpus>``) so the product index is untouched."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from eval.eval_set import EvalQuestion, EvalSet, OnInvalid, parse_question
from qa.core.errors import HoidapError, InputError
from qa.index.build import corpus_fingerprint
from qa.ingest.loading import article_id, load_articles
from qa.pipeline import Pipeline
from qa.text.vietnamese import fold, nfc

EVAL_INDEX = "eval-index"
CORPUS = "corpus.jsonl"
MISSING_ANSWERS = "answers_not_in_context"
_QRELS = ("test.tsv", "dev.tsv")
_TITLE_CHARS = 80


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: không tìm thấy tệp") from exc
    except OSError as exc:
        raise InputError(f"{path}: không đọc được tệp ({exc.strerror})") from exc


def _jsonl(rows: Iterable[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _is_current(pipeline: Pipeline, corpus: Path) -> bool:
    try:
        manifest = pipeline.data.manifest
    except HoidapError:
        return False
    settings = pipeline.settings
    return (manifest.chunk_size, manifest.chunk_overlap, manifest.corpus_fingerprint) == (
        settings.chunk_size,
        settings.chunk_overlap,
        corpus_fingerprint(load_articles([corpus])),
    )


def corpus_pipeline(base: Pipeline, corpus: Path | bytes, *, progress: bool = False) -> Pipeline:
    """A pipeline over its own index of ``corpus`` (an articles file, or JSONL articles as
    bytes), sharing ``base``'s settings and embedder; an index that is current is reused."""
    data = corpus if isinstance(corpus, bytes) else _read_bytes(corpus)
    data_dir = base.settings.data_dir / EVAL_INDEX / hashlib.sha256(data).hexdigest()[:16]
    file = corpus if isinstance(corpus, Path) else data_dir / CORPUS
    if not file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        partial = file.with_suffix(".partial")
        partial.write_bytes(data)
        os.replace(partial, file)
    pipeline = Pipeline(
        base.settings.model_copy(update={"data_dir": data_dir}), embedder=base.embedder
    )
    if not _is_current(pipeline, file):
        pipeline.index([file], progress=progress)
    return pipeline


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: không phải JSON hợp lệ ({exc})") from exc


def _unique_id(title: str, paragraph: int, document: int, used: set[str]) -> str:
    slug = fold(title)[:_TITLE_CHARS] or "doc"
    found = article_id(f"{slug}-{paragraph}")
    if found in used:
        found = article_id(f"{slug}-{document}-{paragraph}")
    used.add(found)
    return found


def _add(
    eval_set: EvalSet, row: dict[str, Any], where: str, on_invalid: OnInvalid, seen: set[str]
) -> EvalQuestion | None:
    """Validate a converted question like a JSONL line; invalid ones become notes."""
    try:
        question = parse_question(row)
        if question.id in seen:
            raise InputError(f"trùng mã câu hỏi {question.id!r}")
    except InputError as exc:
        if on_invalid == "stop":
            raise InputError(f"{where}: {exc}") from exc
        eval_set.notes.append(f"{where}: {exc}")
        return None
    seen.add(question.id)
    eval_set.questions.append(question)
    return question


def _squad_paragraphs(raw: Any, path: Path) -> Iterator[tuple[int, int, str, dict[str, Any]]]:
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list):
        raise InputError(f'{path}: thiếu danh sách "data" của định dạng SQuAD')
    for d, document in enumerate(data):
        paragraphs = document.get("paragraphs") if isinstance(document, dict) else None
        if not isinstance(paragraphs, list):
            raise InputError(f'{path}: data[{d}] thiếu danh sách "paragraphs"')
        title = str(document.get("title") or f"doc-{d}")
        for p, paragraph in enumerate(paragraphs):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise InputError(f'{path}: data[{d}].paragraphs[{p}] thiếu "context"')
            yield d, p, title, paragraph


def load_squad(
    path: Path, on_invalid: OnInvalid = "skip", *, documents: int | None = None
) -> tuple[EvalSet, bytes]:
    """Questions of a SQuAD v1.1/v2.0 file and its contexts as articles (JSONL bytes); only
    the first ``documents`` documents when given.

    Answers that do not occur in their context are kept, counted and listed in the notes."""
    eval_set = EvalSet(name=path.stem, path=path, questions=[], counts={MISSING_ANSWERS: 0})
    corpus: list[dict[str, str]] = []
    used: set[str] = set()
    seen: set[str] = set()
    raw = _read_json(path)
    if documents is not None and isinstance(raw, dict) and isinstance(raw.get("data"), list):
        raw = {**raw, "data": raw["data"][:documents]}
    for d, p, title, paragraph in _squad_paragraphs(raw, path):
        context = nfc(paragraph["context"])
        if not context.strip():
            eval_set.notes.append(f"data[{d}].paragraphs[{p}]: đoạn văn rỗng, bỏ qua")
            continue
        paragraph_id = _unique_id(title, p, d, used)
        corpus.append({"id": paragraph_id, "title": title, "text": context})
        for q, qa in enumerate(paragraph.get("qas") or []):
            where = f"data[{d}].paragraphs[{p}].qas[{q}]"
            qa = qa if isinstance(qa, dict) else {}
            impossible = bool(qa.get("is_impossible", False))
            answers = [a.get("text") for a in qa.get("answers") or [] if isinstance(a, dict)]
            row = {
                "id": qa.get("id"),
                "question": qa.get("question"),
                "answers": [] if impossible else list(dict.fromkeys(answers)),
                "article_id": paragraph_id,
                "answerable": not impossible,
                "tags": ["unanswerable"] if impossible else [],
            }
            question = _add(eval_set, row, where, on_invalid, seen)
            if question is None:
                continue
            for answer in question.answers:
                if answer not in context:
                    eval_set.counts[MISSING_ANSWERS] += 1
                    eval_set.notes.append(
                        f"{question.id}: đáp án {answer!r} không có trong đoạn văn"
                    )
    if not eval_set.questions:
        raise InputError(f"{path}: không có câu hỏi hợp lệ nào")
    return eval_set, _jsonl(corpus)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(_read_bytes(path).decode("utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: dòng JSON hỏng ({exc.msg})") from exc
        if not isinstance(row, dict) or "_id" not in row:
            raise InputError(f'{path}:{number}: cần một đối tượng có trường "_id"')
        yield number, row


def _qrels(folder: Path) -> dict[str, list[str]]:
    file = next((folder / "qrels" / n for n in _QRELS if (folder / "qrels" / n).exists()), None)
    if file is None:
        raise InputError(f"{folder}: không có qrels/{' hay qrels/'.join(_QRELS)}")
    relevant: dict[str, list[str]] = {}
    for number, line in enumerate(_read_bytes(file).decode("utf-8-sig").splitlines(), start=1):
        fields = line.split("\t")
        if not line.strip() or (number == 1 and fields[0] == "query-id"):
            continue
        try:
            query, document, score = fields[0], fields[1], float(fields[2])
        except (IndexError, ValueError) as exc:
            raise InputError(f"{file}:{number}: cần 3 cột query-id, corpus-id, score") from exc
        if score > 0:
            relevant.setdefault(query, []).append(document)
    return relevant


def load_beir(folder: Path) -> tuple[EvalSet, bytes]:
    """Queries with relevance judgments of a BEIR folder (retrieval only) and its corpus."""
    corpus = [
        {"id": str(row["_id"]), "title": str(row.get("title") or ""), "text": str(row["text"])}
        for _, row in _jsonl_rows(folder / "corpus.jsonl")
        if str(row.get("text") or "").strip()
    ]
    relevant = _qrels(folder)
    eval_set = EvalSet(name=folder.name, path=folder, questions=[], retrieval_only=True)
    for number, row in _jsonl_rows(folder / "queries.jsonl"):
        query_id, text = str(row["_id"]), str(row.get("text") or "").strip()
        if query_id not in relevant:
            continue
        if not text:
            eval_set.notes.append(f"queries.jsonl:{number}: câu truy vấn rỗng, bỏ qua")
            continue
        eval_set.questions.append(
            EvalQuestion(
                id=query_id,
                question=nfc(text),
                article_ids=tuple(dict.fromkeys(article_id(d) for d in relevant[query_id])),
            )
        )
    if not eval_set.questions:
        raise InputError(f"{folder}: không có câu truy vấn nào có trong qrels")
    return eval_set, _jsonl(corpus)
