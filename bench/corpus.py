"""The texts the benchmark runs on: the bundled corpus and the dev benchmark (read in place).

The dev benchmark (UIT-ViNewsQA dev split) lives outside the project in ``../shared``; it is
read from its path and never copied.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qa.core.settings import PROJECT_ROOT, Settings
from qa.core.types import Article
from qa.ingest.chunking import SentenceChunker
from qa.ingest.loading import load_articles

BUNDLED = PROJECT_ROOT / "data" / "articles"
DEV_DIR = PROJECT_ROOT.parent / "shared" / "eval-data" / "vinewsqa-dev"
DEV_ARTICLES = DEV_DIR / "articles.jsonl"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    article_id: str


def default_dev_articles() -> Path | None:
    return DEV_ARTICLES if DEV_ARTICLES.exists() else None


def questions_beside(articles: Path) -> Path:
    return articles.with_name("questions.jsonl")


def load_questions(path: Path, sample: int, seed: int = 6) -> list[Question]:
    """A fixed sample of ``sample`` questions that have answers (the same for every run).

    Rows are ``{"id", "question", "answers", "article_id"}`` (the dev benchmark) or carry
    ``article_ids`` (hoidap's eval sets)."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            if raw.get("answers"):
                article = raw.get("article_id") or (raw.get("article_ids") or [""])[0]
                rows.append(Question(raw["id"], raw["question"], tuple(raw["answers"]), article))
    if sample < len(rows):
        rows = random.Random(seed).sample(rows, sample)
    return rows


def load(path: Path) -> list[Article]:
    return load_articles([path])


def passages(articles: list[Article], settings: Settings) -> list[tuple[Article, int, int]]:
    """The passages the pipeline's chunker makes: (article, start, end)."""
    chunker = SentenceChunker(settings.chunk_size, settings.chunk_overlap)
    return [(a, s, e) for a in articles for s, e in chunker.chunk(a)]


@contextmanager
def subset(path: Path, ids: Collection[str] = (), first: int = 0) -> Iterator[Path]:
    """A temporary JSONL (in the system temp folder, never the project) holding the articles of
    ``path`` whose ids are in ``ids``, or the ``first`` ones; removed afterwards."""
    articles = load(path)
    kept = [a for a in articles if a.id in ids] if ids else articles[:first]
    rows = [{"id": a.id, "title": a.title, "text": a.text} for a in kept]
    with tempfile.TemporaryDirectory(prefix="hoidap-bench-") as tmp:
        out = Path(tmp) / path.with_suffix(".jsonl").name
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        yield out
