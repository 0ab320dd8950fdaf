"""Training windows for the reader from SQuAD 2.0-style files.

Each answerable question gives a window (sentence-aligned, answer inside, random context
around it); some also give a window of the same context that lacks the answer; each
human-written unanswerable question gives the window that shares most words with it. A share of
the questions is also paired with the paragraph of *another* article that BM25 ranks first for
it and that lacks the answer: what retrieval hands the reader when the corpus does not hold the
answer, the case the no-answer decision must catch. Labels are token positions in the window
sequence; (0, 0) is "no answer".
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.reader.windows import Windower, sentence_tokens
from qa.core.errors import InputError
from qa.index.bm25 import BM25Index
from qa.text.matching import contains_any
from qa.text.sentences import sentence_spans
from qa.text.terms import document_terms, query_terms

ALL = 10**9


@dataclass(frozen=True)
class Source:
    """One file of the mix: answerable questions kept, chance of an extra in-context negative,
    unanswerable questions kept, chance of a question's other-article negatives and how many
    (each from a different article), and how many windows each answerable question gives (each
    places the answer at another random sentence start)."""

    name: str
    answerable: int
    negative_rate: float
    unanswerable: int
    other_article_rate: float = 0.0
    other_articles: int = 1
    repeats: int = 1


# The mix the shipped weights were trained on (files of ../shared/train-data, see its README).
# The ViQuAD 2.0 subset gives only its unanswerables: its contexts are all ViQuAD 1.0 train
# contexts and nearly all its answerable questions are ViQuAD 1.0 train questions. News, the
# product's domain, is the smallest file, so each of its questions gives two windows.
MIX = (
    Source("vinewsqa_train_partial400", ALL, 0.5, 0, 1.0, repeats=2),
    Source("viquad1_train", ALL, 0.3, 0, 0.2),
    Source("viquad1_dev", ALL, 0.3, 0, 0.2),
    Source("viquad2_train_subset10pct", 0, 0.0, ALL),
    Source("mlqa_vi_dev", ALL, 0.3, 0, 0.5),
    Source("nanibot_train_reg", ALL, 0.3, 0, 0.3),
    Source("nanibot_train_wiki", ALL, 0.3, 0),
    Source("mailong25_train", ALL, 0.0, 1500),
    Source("squad2_vi_mt_dev_impossible_noxquad", 0, 0.0, 1500),
)


@dataclass(frozen=True)
class Example:
    source: str
    context: str
    question: str
    answer_start: int  # -1: unanswerable
    answer: str
    positive: bool  # False: a window without the answer


@dataclass(frozen=True)
class TrainingWindow:
    ids: list[int]
    label: tuple[int, int]
    source: str


_WORD = re.compile(r"\w+")


def squad_questions(path: Path) -> Iterator[tuple[int, str, dict]]:
    """(article number, context, question record) of a SQuAD-format file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        for number, article in enumerate(data["data"]):
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    yield number, paragraph["context"], qa
    except FileNotFoundError as exc:
        raise InputError(f"{path}: không tìm thấy tệp dữ liệu huấn luyện") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: không phải tệp SQuAD hợp lệ ({exc})") from exc


def examples(train_dir: Path, rng: random.Random, mix: tuple[Source, ...] = MIX) -> list[Example]:
    out = []
    for source in mix:
        answerable, unanswerable = [], []
        for _article, context, qa in squad_questions(train_dir / f"{source.name}.json"):
            impossible = qa.get("is_impossible") or not qa["answers"]
            (unanswerable if impossible else answerable).append((context, qa))
        rng.shuffle(answerable)
        rng.shuffle(unanswerable)
        for context, qa in answerable[: source.answerable]:
            first = qa["answers"][0]
            for positive in (True,) * (source.repeats - 1) + (True, False):
                if positive or rng.random() < source.negative_rate:
                    out.append(
                        Example(
                            source.name,
                            context,
                            qa["question"],
                            first["answer_start"],
                            first["text"],
                            positive,
                        )
                    )
        for context, qa in unanswerable[: source.unanswerable]:
            out.append(Example(source.name, context, qa["question"], -1, "", False))
    rng.shuffle(out)
    return out


class OtherArticles:
    """The paragraphs of one file under the product's BM25, to find for a question the closest
    paragraph of another article that lacks its answer."""

    def __init__(self, records: list[tuple[int, str, dict]]) -> None:
        seen: dict[str, int] = {}
        for article, context, _qa in records:
            seen.setdefault(context, article)
        self._contexts = list(seen)
        self._articles = list(seen.values())
        self._bm25 = BM25Index.build([document_terms(c) for c in self._contexts], k1=1.2, b=0.75)

    def closest(
        self, question: str, article: int, answers: list[str], n: int = 1, depth: int = 20
    ) -> list[str]:
        """Up to ``n`` paragraphs, best first, each of a different article (not ``article``)
        and none holding an answer."""
        scores = self._bm25.scores(query_terms(question, {}, self._bm25.folded_vocabulary))
        found: dict[int, str] = {}
        for j in np.argsort(-scores)[:depth]:
            if scores[j] <= 0 or len(found) == n:
                break
            other = self._articles[j]
            fresh = other != article and other not in found
            if fresh and not contains_any(self._contexts[j], answers):
                found[other] = self._contexts[j]
        return list(found.values())


def other_article_negatives(
    train_dir: Path, rng: random.Random, mix: tuple[Source, ...] = MIX
) -> list[Example]:
    """For a share of each file's answerable questions, the question against the closest
    paragraph of another article (see ``OtherArticles``)."""
    out = []
    for source in mix:
        if not source.other_article_rate:
            continue
        records = list(squad_questions(train_dir / f"{source.name}.json"))
        others = OtherArticles(records)
        for article, _context, qa in records:
            if qa.get("is_impossible") or not qa["answers"]:
                continue
            if rng.random() >= source.other_article_rate:
                continue
            answers = [a["text"] for a in qa["answers"]]
            for context in others.closest(qa["question"], article, answers, source.other_articles):
                out.append(Example(f"{source.name}~other", context, qa["question"], -1, "", False))
    rng.shuffle(out)
    return out


def window(example: Example, windower: Windower, rng: random.Random) -> TrainingWindow | None:
    """The example's window, or None when it has none (an answer longer than a window)."""
    q_ids = windower.question_ids(example.question)
    ids, offsets = windower.passage_tokens(example.context)
    budget = windower.budget(q_ids)
    starts = sentence_tokens(offsets, [s for s, _ in sentence_spans(example.context)])
    starts = [min(t, max(len(ids) - 1, 0)) for t in starts]
    if example.answer_start >= 0:
        answer_end = example.answer_start + len(example.answer)
        ts = next((i for i, (_s, e) in enumerate(offsets) if e > example.answer_start), None)
        te = next((i for i in range(len(offsets) - 1, -1, -1) if offsets[i][0] < answer_end), None)
        if ts is None or te is None or te < ts:
            return None
    if example.positive:
        if te - ts + 1 > budget:
            return None
        valid = [t for t in starts if t <= ts and te < t + budget]
        w0 = rng.choice(valid) if valid else max(0, ts - rng.randint(0, budget - (te - ts + 1)))
        label = (ts - w0, te - w0)
    else:
        w0 = _closest_without_answer(example, offsets, starts, budget, rng)
        if w0 is None:
            return None
        label = None
    offset = len(q_ids) + 3
    final = (0, 0) if label is None else (label[0] + offset, label[1] + offset)
    return TrainingWindow(windower.sequence(q_ids, ids[w0 : w0 + budget]), final, example.source)


def _closest_without_answer(
    example: Example,
    offsets: list[tuple[int, int]],
    starts: list[int],
    budget: int,
    rng: random.Random,
) -> int | None:
    """The sentence-aligned window sharing most words with the question, answer not inside."""
    question_words = set(_WORD.findall(example.question.lower()))
    context, a, answer = example.context, example.answer_start, example.answer
    best, best_score = None, -1.0
    for t in starts:
        w_s, w_e = offsets[t][0], offsets[min(t + budget, len(offsets)) - 1][1]
        if a >= 0 and ((w_s < a + len(answer) and a < w_e) or answer in context[w_s:w_e]):
            continue
        score = len(question_words & set(_WORD.findall(context[w_s:w_e].lower())))
        score += rng.random() * 0.5
        if score > best_score:
            best, best_score = t, score
    return best
