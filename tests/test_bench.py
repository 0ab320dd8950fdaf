"""`qa bench`: statistics, report formatting and a tiny query run. Timings are never asserted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench import query, report, synth
from bench.cli import bench_command
from bench.corpus import BUNDLED, load, load_questions
from bench.stats import percentiles, repeat, spread
from embeddings.hashing import HashEmbedder
from qa.core.settings import PROJECT_ROOT, Settings

BUNDLED_SET = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"


def test_spread_is_median_with_range() -> None:
    s = spread([3.0, 1.0, 2.0, 10.0])
    assert (s.median, s.low, s.high, s.n) == (2.5, 1.0, 10.0, 4)
    assert s.format(1) == "2.5 (1.0–10.0)"
    assert spread([0.0123]).format(1, scale=1000) == "12.3"
    with pytest.raises(ValueError):
        spread([])


def test_percentiles_interpolate() -> None:
    p = percentiles([float(v) for v in range(1, 101)])
    assert p == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})


def test_repeat_runs_at_least_once_and_stops_at_count() -> None:
    calls: list[int] = []
    assert repeat(lambda: calls.append(1) or 1.0, 3, budget_s=60) == [1.0, 1.0, 1.0]
    assert len(repeat(lambda: 2.0, 5, budget_s=0)) == 1


def test_markdown_table_aligns_numbers_right() -> None:
    text = report.markdown_table(
        ["size", "kind", "p50"], [["1,000", "flat", "1.5"], ["10,000", "a|b", "—"]]
    )
    assert text.splitlines() == [
        "| size | kind | p50 |",
        "| ---: | --- | ---: |",
        "| 1,000 | flat | 1.5 |",
        "| 10,000 | a\\|b | — |",
    ]


def _section(rows: list[list[str]], note: str) -> report.Section:
    section = report.Section(
        "query", {"cpu": "x", "cores": 2, "ram_gib": 1, "python": "3", "date": "d"}
    )
    table = section.table("Latency", ["passages", "p50"])
    for row in rows:
        table.add(*row)
    section.notes.append(note)
    return section


def test_merge_replaces_rows_of_the_same_size_and_keeps_others(tmp_path: Path) -> None:
    out = tmp_path / "latest.md"
    report.write([_section([["1,000", "1"], ["100,000", "9"]], "first")], out)
    text = report.write([_section([["10,000", "2"], ["100,000", "8"]], "second")], out)
    rows = report.load(out.with_suffix(".json"))["query"].tables[0].rows
    assert rows == [["1,000", "1"], ["10,000", "2"], ["100,000", "8"]]
    assert "## 3a. Query latency" in text and "- second" in text and "- first" in text
    fresh = report.write([_section([["5", "1"]], "only")], out, fresh=True)
    assert "100,000" not in fresh


def test_a_table_whose_columns_changed_drops_its_old_rows(tmp_path: Path) -> None:
    out = tmp_path / "latest.md"
    report.write([_section([["1,000", "1"], ["100,000", "9"]], "first")], out)
    wider = _section([], "second")
    wider.tables = [report.Table("Latency", ["passages", "p50", "p95"], [["10,000", "2", "3"]])]
    text = report.write([wider], out)
    rows = report.load(out.with_suffix(".json"))["query"].tables[0].rows
    assert rows == [["10,000", "2", "3"]] and "| 10,000 | 2 | 3 |" in text


def test_a_rerun_replaces_rows_and_tables_keyed_by_labels(tmp_path: Path) -> None:
    out = tmp_path / "latest.md"
    first = _section([["dev · plain", "1"], ["dev · old path", "2"]], "first")
    first.tables.append(report.Table("on 30 questions", ["backend", "x"], [["torch", "1"]]))
    report.write([first], out)
    text = report.write([_section([["dev · plain", "3"]], "second")], out)
    section = report.load(out.with_suffix(".json"))["query"]
    assert [t.rows for t in section.tables] == [[["dev · plain", "3"]]]
    assert "old path" not in text and "on 30 questions" not in text and "- first" not in text


def test_table_rejects_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError):
        report.Table("t", ["a", "b"]).add("1")


def test_targets_are_listed_with_their_status(tmp_path: Path) -> None:
    section = _section([["1", "1"]], "n")
    section.targets.append(report.Target("search p50 ≤ 15 ms at 100k", "12.0 ms", True))
    text = report.write([section], tmp_path / "r.md", fresh=True)
    assert "| search p50 ≤ 15 ms at 100k | 12.0 ms | met |" in text


@pytest.fixture(scope="module")
def base() -> synth.Base:
    return synth.build_base(load(BUNDLED), Settings(), HashEmbedder())


def test_synthetic_collection_keeps_real_passages_first(base: synth.Base) -> None:
    m = len(base.passages)
    plan = synth.Plan.make(base, m + 50)
    vectors = synth.vectors(base, plan)
    texts, terms, _ = synth.texts_and_terms(base, plan)
    assert vectors.shape == (m + 50, base.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[:m], base.vectors, atol=1e-6)
    assert len(texts) == len(terms) == m + 50 and all(texts)
    # the same seed gives the same vectors, with or without the texts
    np.testing.assert_array_equal(vectors, synth.vectors(base, synth.Plan.make(base, m + 50)))


def test_tiny_query_run_reports_every_size_and_index(base: synth.Base, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    questions = load_questions(BUNDLED_SET, 4)
    embedder = HashEmbedder()
    vectors = np.stack([embedder.embed_query(q.question) for q in questions])
    opts = query.Options(sizes=[40, 90], queries=3, budget_s=5, kinds=("flat", "hnsw", "ivf-sq8"))
    sections = query.run(
        settings, base, questions, vectors, opts, {"query", "indexes"}, lambda _: None
    )
    by_name = {s.name: s for s in sections}
    latency, memory, serving = by_name["query"].tables
    assert [row[0] for row in latency.rows] == ["40", "90"]
    assert [row[1] for row in latency.rows] == ["flat", "flat"]
    assert [row[0] for row in memory.rows] == ["40", "90"]
    # a fresh process loaded each saved build and answered the questions
    assert [row[0] for row in serving.rows] == ["40", "90"]
    assert [row[-1] for row in serving.rows] == ["3", "3"]
    served = by_name["query"].data["90/serving"]
    assert all(served[at]["total"] > 0 for at in ("imports", "loaded", "answered"))
    kinds = by_name["indexes"].tables[0]
    assert [row[0] for row in kinds.rows] == [
        f"{n} · {k}" for n in (40, 90) for k in ("flat", "hnsw", "ivf-sq8")
    ]
    assert all(row[4] == "1.000" for row in kinds.rows if row[0].endswith("flat"))


def test_tiny_backend_run_builds_and_searches_both_backends(
    base: synth.Base, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    questions = load_questions(BUNDLED_SET, 4)
    embedder = HashEmbedder()
    vectors = np.stack([embedder.embed_query(q.question) for q in questions])
    opts = query.Options(sizes=[40, 200_000], queries=3, budget_s=5)
    (section,) = query.run(settings, base, questions, vectors, opts, {"milvus"}, lambda _: None)
    table, updates = section.tables
    assert [row[:2] for row in table.rows] == [["40 · faiss", "flat"], ["40 · milvus", "flat"]]
    # an update in place of 1 passage in 100 writes that one row (its deletes are checked)
    assert [row[0] for row in updates.rows] == ["40"] and updates.rows[0][2] == "1"
    assert table.rows[0][4] == "—" and 0.0 <= float(table.rows[1][9]) <= 1.0
    assert all(row[10] == "3" for row in table.rows)
    assert any("200,000: not measured" in note for note in section.notes)
    assert section.data["40/milvus"]["server_rss"] is not None


def test_cli_writes_markdown_and_json(tmp_path: Path) -> None:
    out = tmp_path / "results" / "latest.md"
    args = [
        "--only",
        "query",
        "--sizes",
        "60",
        "--hash-embedder",
        "--questions",
        "3",
        "--dev-articles",
        str(BUNDLED),
        "--dev-questions",
        str(BUNDLED_SET),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(bench_command, args, obj={"settings": Settings(data_dir=tmp_path)})
    assert result.exit_code == 0, result.output
    assert "| 60 | flat |" in result.output
    body = json.loads(out.with_suffix(".json").read_text("utf-8"))
    assert list(body["sections"]) == ["query"]
    assert out.read_text("utf-8").startswith("# hoidap benchmark")


def test_cli_refuses_unknown_sections(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        bench_command, ["--only", "speed"], obj={"settings": Settings(data_dir=tmp_path)}
    )
    assert result.exit_code == 2
    assert "unknown section" in result.output


def test_notes_of_fully_replaced_rows_are_dropped(tmp_path: Path) -> None:
    out = tmp_path / "latest.md"
    report.write([_section([["1,000", "1"]], "old run")], out)
    text = report.write([_section([["1,000", "2"]], "new run")], out)
    assert "- new run" in text and "old run" not in text


def test_secrets_are_masked_in_the_report() -> None:
    from bench.cli import _masked

    assert _masked("HOIDAP_OPENAI_API_KEY", "sk-123") == "***"
    assert _masked("HOIDAP_TOP_K", "7") == "7"
    assert _masked("HOIDAP_OPENAI_API_KEY", "") == ""


@pytest.mark.model
def test_answer_section_times_every_answerer_over_the_same_passages(
    tmp_path: Path, e5_model_dir: Path
) -> None:
    from bench import answer

    settings = Settings(data_dir=tmp_path, model_cache_dir=e5_model_dir.parent)
    section = answer.run(settings, repeats=1, budget_s=5, log=lambda _m: None)
    [table] = section.tables
    assert [row[0] for row in table.rows] == [
        "reader (torch)",
        "reader (onnx)",
        "reader (onnx-int8)",
        "extractive",
    ]
    assert set(section.data) == {"torch", "onnx", "onnx-int8", "extractive"}
    assert all(section.data[b]["p50_s"] > 0 for b in ("torch", "onnx", "onnx-int8"))
    assert section.data["onnx"]["max_logit_diff"] < 1e-2
    assert "max_logit_diff" not in section.data["torch"]
    [target] = section.targets
    assert target.met is not None and "ms" in target.measured
    assert not any(tmp_path.glob("bench/answer-*"))  # the scratch index is removed


def test_import_shares_sum_each_modules_own_time_by_package() -> None:
    from bench.startup import import_shares

    importtime = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:      2000 |       2000 |     torch._C\n"
        "import time:      1000 |       3000 |   torch\n"
        "import time:       500 |       3500 | faiss\n"
        "some warning on stderr\n"
        "import time:       250 |        250 | numpy\n"
    )
    assert import_shares(importtime, top=2) == [
        ("torch", 0.003),
        ("faiss", 0.0005),
        ("other", 0.00025),
    ]


def test_import_clock_counts_a_module_once_with_what_it_imports(
    tmp_path: Path, monkeypatch
) -> None:
    import sys

    from bench.startup_probe import ImportClock

    (tmp_path / "outer_probe_mod.py").write_text(
        "import time\nimport inner_probe_mod\ntime.sleep(0.05)\n"
    )
    (tmp_path / "inner_probe_mod.py").write_text("import time\ntime.sleep(0.05)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with ImportClock() as clock:
        import outer_probe_mod  # noqa: F401
    sys.modules.pop("outer_probe_mod"), sys.modules.pop("inner_probe_mod")
    assert 0.1 <= clock.seconds < 0.2  # inner's 0.05 s counted once, inside outer's


def test_startup_section_runs_the_commands_in_fresh_processes(tmp_path: Path) -> None:
    from bench import startup

    settings = Settings(data_dir=tmp_path, model="hash:64", answerer="extractive")
    section = startup.run(settings, repeats=1, budget_s=0, log=lambda _m: None)
    ends, parts, imports = section.tables
    assert len(ends.rows) == 4 and all(float(row[1]) > 0 for row in ends.rows)
    assert [row[0] for row in parts.rows] == ["qa ask", "qa serve"]
    assert imports.rows and all(row[2].endswith("%") for row in imports.rows)
    [target] = section.targets
    assert target.met is not None and "load average" in target.measured
    [run] = section.data["runs"]
    assert not run["probes"]["ask"]["torch"] and run["probes"]["ask"]["answered"]
    assert not any(tmp_path.glob("bench/startup-*"))  # the scratch index is removed
