"""Compare two runs: metric deltas, and the questions that went from right to wrong and back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.report import format_value, metric_label, render_compare
from eval.runner import FORMAT, RESULTS
from eval.scoring import PROBLEMS
from qa.core.errors import InputError

COMPARE_JSON, COMPARE_HTML = "compare.json", "compare.html"
_COUNTS = ("questions", "answerable", "unanswerable")
_LOWER_IS_BETTER = ("latency.", "problem.")


def load_run(path: Path) -> dict[str, Any]:
    """The results of a run folder (or of its ``results.json``)."""
    file = path / RESULTS if path.is_dir() else path
    try:
        results = json.loads(file.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: không có {RESULTS} của một lần đánh giá") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file}: không đọc được kết quả đánh giá ({exc})") from exc
    if not isinstance(results, dict) or results.get("format") != FORMAT:
        raise InputError(f"{file}: không phải kết quả đánh giá định dạng {FORMAT}")
    results["path"] = str(path)
    return results


def _verdict(key: str, delta: float) -> str:
    if key in _COUNTS or not delta:
        return ""
    better = delta < 0 if key.startswith(_LOWER_IS_BETTER) else delta > 0
    return "better" if better else "worse"


def _deltas(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key in dict.fromkeys([*a, *b]):
        va, vb = a.get(key), b.get(key)
        delta = vb - va if va is not None and vb is not None else None
        rows.append(
            {
                "key": key,
                "label": metric_label(key),
                "a": va,
                "b": vb,
                "delta": delta,
                "a_text": format_value(key, va),
                "b_text": format_value(key, vb),
                "delta_text": "—"
                if delta is None
                else ("+" if delta >= 0 else "") + format_value(key, delta),
                "verdict": "" if delta is None else _verdict(key, delta),
            }
        )
    return rows


def _change(qa: dict[str, Any], qb: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": qb["id"],
        "question": qb["question"],
        "answers": qb["answers"],
        "a_answer": qa["answer"],
        "b_answer": qb["answer"],
        "a_problems": [PROBLEMS[p] for p in qa["problems"]],
        "b_problems": [PROBLEMS[p] for p in qb["problems"]],
    }


def _meta(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": run["path"],
        "name": Path(run["path"]).name,
        "set": run["set"]["name"],
        "created_at": run["created_at"],
        "model": run["model"],
        "corpus_fingerprint": run["index"]["corpus_fingerprint"],
    }


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    rows_a = {q["id"]: q for q in a["questions"]}
    rows_b = {q["id"]: q for q in b["questions"]}
    shared = [i for i in rows_b if i in rows_a]
    return {
        "a": _meta(a),
        "b": _meta(b),
        "metrics": _deltas(a["summary"], b["summary"]),
        "tags": {t: _deltas(a["tags"][t], b["tags"][t]) for t in b["tags"] if t in a["tags"]},
        "broken": [
            _change(rows_a[i], rows_b[i])
            for i in shared
            if rows_a[i]["correct"] and not rows_b[i]["correct"]
        ],
        "fixed": [
            _change(rows_a[i], rows_b[i])
            for i in shared
            if not rows_a[i]["correct"] and rows_b[i]["correct"]
        ],
        "only_a": [i for i in rows_a if i not in rows_b],
        "only_b": [i for i in rows_b if i not in rows_a],
    }


def format_comparison(comparison: dict[str, Any]) -> str:
    """The comparison as plain text for the terminal."""
    width = max(len(m["label"]) for m in comparison["metrics"])
    lines = [f"A: {comparison['a']['path']}", f"B: {comparison['b']['path']}", ""]
    lines.append(f"{'Chỉ số':<{width}}  {'A':>10}  {'B':>10}  {'B − A':>10}")
    lines.extend(
        f"{m['label']:<{width}}  {m['a_text']:>10}  {m['b_text']:>10}  {m['delta_text']:>10}"
        for m in comparison["metrics"]
    )
    for title, key in (("Từ đúng thành sai", "broken"), ("Từ sai thành đúng", "fixed")):
        lines.append(f"\n{title}: {len(comparison[key])}")
        lines.extend(f"  {q['id']}: {q['question']}" for q in comparison[key])
    return "\n".join(lines)


def write_comparison(comparison: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / COMPARE_JSON, out / COMPARE_HTML
    json_path.write_text(json.dumps(comparison, ensure_ascii=False, indent=1), "utf-8")
    html_path.write_text(render_compare(comparison), "utf-8")
    return json_path, html_path
