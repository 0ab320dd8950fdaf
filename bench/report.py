"""Tables, sections and the report file: Markdown to read, JSON beside it to compare runs.

Sections measured in separate runs are merged: a section run again replaces its tables, except
rows keyed by a collection size that this run did not measure again (``--sizes``), which stay.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.machine import describe

ORDER = ("ingest", "backends", "query", "indexes", "answer", "milvus", "server", "startup")
TITLES = {
    "ingest": "1. Ingest: raw files to a saved index",
    "backends": "2. Embedding backends (same model, same passages)",
    "query": "3a. Query latency: hybrid search and extractive answer",
    "indexes": "3b. Vector indexes: memory, disk, recall@10 against flat",
    "milvus": "3d. Index backends: FAISS + BM25 in process and Milvus (milvus-lite server)",
    "answer": "3c. Answer step: trained reader and keyword answerer over the same passages",
    "server": "4. Chat server under load (POST /api/ask on 127.0.0.1)",
    "startup": "5. Start-up: `qa ask` and `qa serve` in fresh processes",
}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["" if c is None else str(c) for c in cells])


@dataclass
class Target:
    """A goal reported beside the measured figure; never asserted."""

    goal: str
    measured: str
    met: bool | None  # None: not measured in this report


@dataclass
class Section:
    name: str
    machine: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def table(self, title: str, columns: list[str]) -> Table:
        table = Table(title, columns)
        self.tables.append(table)
        return table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table; text columns left-aligned, numeric-looking ones right-aligned."""

    def numeric(i: int) -> bool:
        cells = [r[i] for r in rows if r[i] not in ("", "—")]
        return bool(cells) and all(c[:1].isdigit() or c[:1] in "-+≈~<>" for c in cells)

    align = ["---:" if numeric(i) else "---" for i in range(len(columns))]
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _mark(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "not measured"}[met]


def render(sections: dict[str, Section], command: str = "") -> str:
    parts = ["# hoidap benchmark (`qa bench`)", ""]
    parts.append(
        "Figures are medians of repeated runs with (min–max) beside them; ratios compare figures "
        "measured in the same run. Nothing here is asserted by the tests."
    )
    if command:
        parts += ["", f"Last command: `{command}`"]
    for name in ORDER:
        section = sections.get(name)
        if section is None:
            continue
        parts += ["", f"## {TITLES[name]}", "", f"Measured on: {describe(section.machine)}"]
        for table in section.tables:
            parts += ["", f"**{table.title}**", "", markdown_table(table.columns, table.rows)]
        if section.notes:
            parts += [""] + [f"- {note}" for note in section.notes]
    targets = [t for name in ORDER if name in sections for t in sections[name].targets]
    if targets:
        parts += ["", "## Targets (where we stand; reported, never asserted)", ""]
        rows = [[t.goal, t.measured, _mark(t.met)] for t in targets]
        parts.append(markdown_table(["target", "measured", "status"], rows))
    return "\n".join(parts) + "\n"


def _from_dict(raw: dict[str, Any]) -> Section:
    return Section(
        name=raw["name"],
        machine=raw["machine"],
        tables=[Table(**t) for t in raw.get("tables", [])],
        notes=list(raw.get("notes", [])),
        targets=[Target(**t) for t in raw.get("targets", [])],
        data=raw.get("data", {}),
    )


def merge(old: Section, new: Section) -> Section:
    """``new`` with the size-keyed rows of ``old`` that it does not measure again; ``old``'s
    notes stay only while some of its rows do."""
    titles = {t.title for t in new.tables}
    old_sized = [t for t in old.tables if t.title not in titles and _by_size(t.rows)]
    kept_any = bool(old_sized)
    tables = []
    for table in new.tables:
        # a table whose columns changed starts over: its old rows no longer fit them
        previous = next(
            (t for t in old.tables if t.title == table.title and t.columns == table.columns),
            None,
        )
        keys = {row[0] for row in table.rows}
        kept = (
            [row for row in previous.rows if row[0] not in keys and _by_size([row])]
            if previous
            else []
        )
        kept_any = kept_any or bool(kept)
        rows = sorted(kept + table.rows, key=lambda r: _sort_key(r[0])) if kept else table.rows
        tables.append(Table(table.title, table.columns, rows))
    tables += old_sized
    fresh = {t.goal: t for t in new.targets}
    old_goals = {t.goal for t in old.targets}
    return Section(
        name=new.name,
        machine=new.machine,
        tables=tables,
        notes=list(dict.fromkeys([*new.notes, *(old.notes if kept_any else [])])),
        targets=[
            *[fresh.get(t.goal, t) for t in old.targets],
            *[t for t in new.targets if t.goal not in old_goals],
        ],
        data={**old.data, **new.data},
    )


def _by_size(rows: list[list[str]]) -> bool:
    """Rows keyed by a collection size: another run measures other sizes, so they are kept.
    Rows keyed by a label (a corpus, a backend) are the last run's only."""
    return bool(rows) and all(_sort_key(row[0])[0] == 0 for row in rows)


def _sort_key(cell: str) -> tuple[int, float]:
    """Rows keyed by a leading number (a collection size) sort by it; others keep their order."""
    digits = cell.replace(",", "").split(" ")[0]
    try:
        return (0, float(digits))
    except ValueError:
        return (1, 0.0)


def load(path: Path) -> dict[str, Section]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text("utf-8"))
    return {name: _from_dict(s) for name, s in raw.get("sections", {}).items()}


def write(sections: list[Section], out: Path, command: str = "", fresh: bool = False) -> str:
    """Merge ``sections`` into the report at ``out`` (and ``out`` .json); return the Markdown."""
    json_path = out.with_suffix(".json")
    merged = {} if fresh else load(json_path)
    for section in sections:
        merged[section.name] = (
            merge(merged[section.name], section) if section.name in merged else section
        )
    text = render(merged, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    body = {"command": command, "sections": {k: asdict(v) for k, v in merged.items()}}
    json_path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return text
