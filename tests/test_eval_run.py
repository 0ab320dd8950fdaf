"""The harness end to end: `qa eval` over the hash-embedder pipeline, external formats, compare."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from eval.cli import eval_command
from eval.external import EVAL_INDEX
from qa.core.types import Answer, AnswerSentence, Citation, Turn
from qa.pipeline import Pipeline

A0, A1 = "000_9a3428ac41f124c4", "001_7009c7100f5f86cf"
SMALL = [
    {
        "id": "truong-ban",
        "question": "Ai là Trưởng Ban Dân tộc tỉnh Trà Vinh?",
        "answers": ["Kiên Ninh"],
        "article_ids": [A1],
        "passages": ["Ông Kiên Ninh, Trưởng Ban Dân tộc tỉnh"],
        "tags": ["factual"],
    },
    {
        "id": "ty-le",
        "question": "ty le nguoi DTTS o Cao Bang la bao nhieu",
        "answers": ["94,88%"],
        "article_ids": [A0],
        "tags": ["unaccented"],
    },
    {
        "id": "tiep",
        "turns": ["Ai là Trưởng Ban Dân tộc tỉnh Cao Bằng?"],
        "question": "Còn ở Bắc Kạn thì sao?",
        "answers": ["Triệu Thị Thu Phương"],
        "tags": ["followup"],
    },
    {
        "id": "lao-cai",
        "question": "Ai là Trưởng Ban Dân tộc tỉnh Lào Cai?",
        "answers": [],
        "answerable": False,
        "tags": ["unanswerable"],
    },
]


def write_set(path: Path, rows: Sequence[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def invoke(pipeline: Pipeline, *args: object) -> Result:
    obj = {"settings": pipeline.settings, "pipeline": pipeline}
    return CliRunner().invoke(eval_command, [str(a) for a in args], obj=obj)


def scripted_ask(texts: dict[str, str]) -> Callable[..., Answer]:
    """An ``ask`` that answers each question with a fixed text quoted from the top hit, refusing
    when it has no text; it records the history it was given."""

    def ask(
        self: Pipeline, question: str, history: Sequence[Turn] = (), exclude: object = ()
    ) -> Answer:
        seen_history[question] = [t.question for t in history]
        text = texts.get(question, "")
        if not text:
            return Answer(question, "Không có thông tin.", [], [], True, [], question)
        top = self.search(question, 1)[0].chunk
        quote = text if text in top.text else top.text[:40]
        start = top.text.find(quote) + top.start
        citation = Citation(1, top.article_id, "", "", start, start + len(quote), quote, top.id)
        sentence = AnswerSentence(text, (1,), 1.0, True)
        return Answer(question, text, [sentence], [citation], False, [], question)

    seen_history: dict[str, list[str]] = {}
    ask.seen_history = seen_history  # type: ignore[attr-defined]
    return ask


RIGHT = {
    "Ai là Trưởng Ban Dân tộc tỉnh Trà Vinh?": "Ông Kiên Ninh",
    "ty le nguoi DTTS o Cao Bang la bao nhieu": "chiếm 94,88%",
    "Còn ở Bắc Kạn thì sao?": "Không rõ ai.",
    "Ai là Trưởng Ban Dân tộc tỉnh Lào Cai?": "",
}


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    return write_set(tmp_path / "small.jsonl", SMALL)


def results_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "results.json").read_text("utf-8"))


def test_run_writes_results_and_a_self_contained_report(
    pipeline: Pipeline, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask = scripted_ask(RIGHT)
    monkeypatch.setattr(Pipeline, "ask", ask)
    out = tmp_path / "run"
    result = invoke(pipeline, small_set, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"Đã ghi {out / 'results.json'}" in result.output

    results = results_of(out)
    manifest = pipeline.data.manifest
    assert results["format"] == 1
    assert results["model"] == manifest.model == "hash:64"
    assert results["index"]["corpus_fingerprint"] == manifest.corpus_fingerprint
    assert results["hoidap_version"] and results["settings"]["top_k"] == 5
    assert results["set"] == {
        "name": "small",
        "path": str(small_set),
        "questions": 4,
        "invalid": [],
        "notes": [],
        "counts": {},
        "retrieval_only": False,
    }
    summary = results["summary"]
    assert summary["questions"] == 4 and summary["unanswerable"] == 1
    assert summary["answer_contained"] == pytest.approx(2 / 3)
    assert (summary["refusal_precision"], summary["refusal_recall"]) == (1.0, 1.0)
    assert summary["citation_coverage"] == 1.0
    assert 0.0 <= summary["answer_recall@5"] <= 1.0
    assert summary["latency.total.p95"] >= summary["latency.total.p50"] > 0
    assert set(results["tags"]) == {"factual", "unaccented", "followup", "unanswerable"}
    assert len(results["curves"]["answer_recall"]) == 10
    rows = {q["id"]: q for q in results["questions"]}
    assert "wrong_answer" in rows["tiep"]["problems"]
    assert rows["lao-cai"]["refused"] and rows["lao-cai"]["correct"]
    assert len(rows["truong-ban"]["hits"]) == 10
    assert ask.seen_history["Còn ở Bắc Kạn thì sao?"] == ["Ai là Trưởng Ban Dân tộc tỉnh Cao Bằng?"]  # type: ignore[attr-defined]

    html = (out / "report.html").read_text("utf-8")
    assert html.count("<svg") >= 4 and "<style>" in html
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)  # nothing fetched
    assert "Còn ở Bắc Kạn thì sao?" in html and "Triệu Thị Thu Phương" in html
    assert "Trả lời sai" in html


def test_run_with_the_real_answerer(pipeline: Pipeline, small_set: Path, tmp_path: Path) -> None:
    result = invoke(pipeline, "run", small_set, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    results = results_of(tmp_path / "run")
    assert {"retrieval", "answer", "total", "wall"} <= set(results["questions"][0]["timings"])
    assert (tmp_path / "run" / "report.html").stat().st_size > 1000


def test_missing_set_file(pipeline: Pipeline, tmp_path: Path) -> None:
    result = invoke(pipeline, tmp_path / "none.jsonl", "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "không tìm thấy tệp bộ câu hỏi" in result.output


def test_broken_lines_are_reported_and_skipped_or_stop_the_run(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(RIGHT))
    path = write_set(
        tmp_path / "s.jsonl",
        [SMALL[0], "{broken", {"id": "x", "question": "Ai?", "answers": []}, SMALL[3]],
    )
    skipped = invoke(pipeline, path, "--out", tmp_path / "a")
    assert skipped.exit_code == 0, skipped.output
    assert f"{path}:2: bỏ qua: dòng JSON hỏng" in skipped.stderr
    assert f'{path}:3: bỏ qua: câu hỏi trả lời được cần "answers"' in skipped.stderr
    results = results_of(tmp_path / "a")
    assert [i["line"] for i in results["set"]["invalid"]] == [2, 3]
    assert results["summary"]["questions"] == 2
    assert "dòng 2" in (tmp_path / "a" / "report.html").read_text("utf-8")

    stopped = invoke(pipeline, path, "--on-invalid", "stop", "--out", tmp_path / "b")
    assert stopped.exit_code == 1
    assert f"{path}:2: dòng JSON hỏng" in stopped.output
    assert not (tmp_path / "b").exists()


def test_an_existing_results_folder_is_refused_unless_overwrite(
    pipeline: Pipeline, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(RIGHT))
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text("{}", "utf-8")
    refused = invoke(pipeline, small_set, "--out", out)
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    assert (out / "results.json").read_text("utf-8") == "{}"
    assert invoke(pipeline, small_set, "--out", out, "--overwrite").exit_code == 0
    assert results_of(out)["format"] == 1


def test_default_results_folder_is_under_eval_runs(
    pipeline: Pipeline, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(RIGHT))
    monkeypatch.chdir(tmp_path)
    assert invoke(pipeline, small_set).exit_code == 0
    (run,) = (tmp_path / "eval" / "runs").iterdir()
    assert run.name.startswith("small-") and (run / "report.html").exists()


def test_recall_gate(
    pipeline: Pipeline, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(RIGHT))
    passed = invoke(pipeline, small_set, "--out", tmp_path / "a", "--min-recall5", "0")
    assert passed.exit_code == 0, passed.output
    impossible = write_set(
        tmp_path / "impossible.jsonl",
        [{"id": "z", "question": "Ai là Trưởng Ban?", "answers": ["không hề có trong bài"]}],
    )
    failed = invoke(pipeline, impossible, "--out", tmp_path / "b", "--min-recall5", "1.0")
    assert failed.exit_code == 1
    assert "answer_recall@5 = 0.0000 thấp hơn ngưỡng 1.0000" in failed.output
    assert (tmp_path / "b" / "results.json").exists()


def test_compare_lists_questions_that_changed(
    pipeline: Pipeline, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(RIGHT))
    assert invoke(pipeline, small_set, "--out", tmp_path / "a").exit_code == 0
    changed = {
        **RIGHT,
        "Ai là Trưởng Ban Dân tộc tỉnh Trà Vinh?": "Không biết.",
        "Còn ở Bắc Kạn thì sao?": "Bà Triệu Thị Thu Phương",
    }
    monkeypatch.setattr(Pipeline, "ask", scripted_ask(changed))
    assert invoke(pipeline, small_set, "--out", tmp_path / "b").exit_code == 0

    result = invoke(pipeline, "compare", tmp_path / "a", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert "Từ đúng thành sai: 1\n  truong-ban:" in result.output
    assert "Từ sai thành đúng: 1\n  tiep:" in result.output
    comparison = json.loads((tmp_path / "b" / "compare.json").read_text("utf-8"))
    assert [q["id"] for q in comparison["broken"]] == ["truong-ban"]
    contained = next(m for m in comparison["metrics"] if m["key"] == "answer_contained")
    assert contained["delta"] == 0.0
    html = (tmp_path / "b" / "compare.html").read_text("utf-8")
    assert "Từ đúng thành sai (1)" in html and "<script" not in html

    elsewhere = invoke(pipeline, "compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "c")
    assert elsewhere.exit_code == 0 and (tmp_path / "c" / "compare.html").exists()
    missing = invoke(pipeline, "compare", tmp_path / "a", tmp_path / "none")
    assert missing.exit_code == 1 and "results.json" in missing.output


SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Hội nghị ở Trùng Khánh",
            "paragraphs": [
                {
                    "context": "Hội nghị diễn ra tại huyện Trùng Khánh, tỉnh Cao Bằng. "
                    "Có 132 đại biểu tham dự.",
                    "qas": [
                        {
                            "id": "s1",
                            "question": "Hội nghị diễn ra ở huyện nào?",
                            "answers": [{"text": "huyện Trùng Khánh", "answer_start": 21}],
                        },
                        {
                            "id": "s2",
                            "question": "Có bao nhiêu đại biểu?",
                            "answers": [{"text": "150 đại biểu", "answer_start": 0}],
                        },
                        {
                            "id": "s3",
                            "question": "Ai chủ trì hội nghị?",
                            "answers": [],
                            "is_impossible": True,
                        },
                        {"id": "s4", "question": "", "answers": [{"text": "x"}]},
                    ],
                },
                {"context": "Ban Dân tộc tỉnh Trà Vinh họp sơ kết.", "qas": []},
            ],
        }
    ],
}


def test_squad_file_is_indexed_apart_and_missing_answers_are_counted(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        Pipeline,
        "ask",
        lambda self, q, history=(), exclude=(): Answer(
            q, "huyện Trùng Khánh", [], [], q.startswith("Ai"), []
        ),
    )
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(SQUAD, ensure_ascii=False), "utf-8")
    before = pipeline.data.manifest.corpus_fingerprint
    result = invoke(pipeline, "--squad", squad, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "'150 đại biểu' không có trong đoạn văn" in result.stderr
    assert "data[0].paragraphs[0].qas[3]" in result.stderr

    results = results_of(tmp_path / "run")
    assert results["set"]["counts"] == {"answers_not_in_context": 1}
    assert results["index"]["article_count"] == 2
    assert results["index"]["corpus_fingerprint"] != before
    rows = {q["id"]: q for q in results["questions"]}
    assert rows["s1"]["article_ids"] == ["hoi-nghi-o-trung-khanh-0"]
    assert rows["s1"]["correct"] and rows["s3"]["refused"] and not rows["s3"]["answerable"]
    assert pipeline.data.manifest.corpus_fingerprint == before
    (index_dir,) = (pipeline.settings.data_dir / EVAL_INDEX).iterdir()
    build = (index_dir / "index").resolve()

    again = invoke(pipeline, "--squad", squad, "--out", tmp_path / "again")
    assert again.exit_code == 0
    assert (index_dir / "index").resolve() == build  # current: reused, not rebuilt


def test_beir_folder_is_retrieval_only(pipeline: Pipeline, tmp_path: Path) -> None:
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "Trà Vinh", "text": "Ông Kiên Ninh là Trưởng Ban Dân tộc tỉnh."},
        {"_id": "d2", "title": "Cao Bằng", "text": "Cao Bằng có 35 dân tộc cùng sinh sống."},
    ]
    write_set(beir / "corpus.jsonl", corpus)
    write_set(
        beir / "queries.jsonl",
        [{"_id": "1", "text": "Cao Bằng có bao nhiêu dân tộc?"}, {"_id": "2", "text": "khác"}],
    )
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td2\t1\n", "utf-8")
    result = invoke(pipeline, "--beir", beir, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    results = results_of(tmp_path / "run")
    assert results["set"]["retrieval_only"] and results["summary"]["questions"] == 1
    (row,) = results["questions"]
    assert row["answer"] == "" and row["article_ids"] == ["d2"]
    assert results["summary"]["article_recall@10"] == 1.0
    assert results["summary"]["f1"] is None


def test_questions_with_their_own_articles_file(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        Pipeline,
        "ask",
        lambda self, q, history=(), exclude=(): Answer(q, "35 dân tộc", [], [], False, []),
    )
    articles = write_set(
        tmp_path / "articles.jsonl",
        [{"id": "a-1", "title": "Cao Bằng", "text": "Cao Bằng có 35 dân tộc cùng sinh sống."}],
    )
    questions = write_set(
        tmp_path / "questions.jsonl",
        [
            {
                "id": "1",
                "question": "Bao nhiêu dân tộc?",
                "answers": ["35 dân tộc"],
                "article_id": "a-1",
            }
        ],
    )
    result = invoke(pipeline, questions, "--articles", articles, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    results = results_of(tmp_path / "run")
    assert results["index"]["article_count"] == 1 and results["warnings"] == []
    assert results["summary"]["article_recall@1"] == 1.0
    assert results["summary"]["exact_match"] == 1.0


def test_exactly_one_source(pipeline: Pipeline, small_set: Path, tmp_path: Path) -> None:
    both = invoke(pipeline, small_set, "--squad", tmp_path / "x.json")
    assert both.exit_code == 2 and "đúng một nguồn" in both.output
    alone = invoke(pipeline, "--squad", tmp_path / "x.json", "--articles", small_set)
    assert alone.exit_code == 2 and "--articles" in alone.output
