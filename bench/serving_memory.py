"""What a process serving a saved build holds in memory, measured in a fresh interpreter.

``measure`` saves a collection as ``qa index`` does (``qa.index.store.save``) and runs
``python -m bench.serving_memory LINK VECTORS QUESTIONS`` on it: the child loads the build as
``qa serve`` does (``store.load`` with the FAISS backend), then answers the questions with the
hybrid retriever, and prints its resident memory after the imports, after the load and after the
questions, split into anonymous memory (Python objects and heap arrays: the article and passage
tables, the texts of the articles last read) and file-backed pages (the memory-mapped FAISS
codes, BM25 posting lists, vectors), which the kernel can drop and re-read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from qa import components
from qa.core.index_data import IndexData
from qa.core.settings import Settings
from qa.index import store
from qa.index.local import LocalBackend


def status() -> dict[str, int]:
    """This process's resident bytes: total, anonymous and file-backed (Linux /proc)."""
    fields = {"VmRSS": "total", "RssAnon": "anon", "RssFile": "file"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in fields:
            out[fields[key]] = int(value.split()[0]) * 1024
    return out


def _backend(settings: Settings) -> LocalBackend:
    return LocalBackend(components.vector_backend(settings))


def measure(
    data: IndexData, settings: Settings, questions: list[str], vectors: np.ndarray, scratch: Path
) -> dict[str, object]:
    """Save ``data`` under ``scratch`` and report the child's memory (bytes), or the reason
    it could not run."""
    folder = scratch / "serving"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _, lock = store.save(data, folder / "index", _backend(settings))
        lock.release()
        np.save(folder / "queries.npy", vectors)
        (folder / "questions.json").write_text(json.dumps(questions, ensure_ascii=False), "utf-8")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.serving_memory",
                str(folder / "index"),
                str(folder / "queries.npy"),
                str(folder / "questions.json"),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
        )
        if done.returncode:
            return {
                "error": done.stderr.strip().splitlines()[-1][:200] if done.stderr else "failed"
            }
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(link: str, vectors_path: str, questions_path: str) -> None:
    from bench.query_context import LookupQueries

    settings = Settings()
    questions = json.loads(Path(questions_path).read_text("utf-8"))
    vectors = np.load(vectors_path)
    embedder = LookupQueries(
        f"lookup:{vectors.shape[1]}", dict(zip(questions, vectors, strict=True))
    )
    report = {"imports": status()}
    data = store.load(Path(link), "synthetic", _backend(settings))
    retriever = components.retriever(settings, data, embedder)
    report["loaded"] = status()
    for question in questions:
        retriever.retrieve(question, settings.top_k)
    report["answered"] = status()
    report["questions"] = len(questions)
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
