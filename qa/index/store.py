"""The index on disk: one folder per build, a manifest, and an atomically swapped link.

``DATA_DIR/index`` is a symbolic link to ``DATA_DIR/builds/<id>``. A build is written completely
into its own folder and then the link is replaced with ``os.replace`` (atomic on POSIX), so a
crash mid-build never leaves a broken index and readers never see half a build. Builds that no
process writes or serves any more are removed (``qa.index.build_locks``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.core.errors import IndexCorruptError, IndexMissingError
from qa.core.index_data import EmbeddedBuild, IndexData, Manifest
from qa.core.protocols import IndexBackend
from qa.index import build_locks
from qa.index.build_locks import BuildLock
from qa.index.tables import ArticleFile, ChunkTable

FORMAT_VERSION = 3  # 3: compact, memory-mapped BM25 posting lists
_REINDEX = "Hãy chạy lại `qa index` để tạo lại chỉ mục."


def save(data: IndexData, link: Path, backend: IndexBackend) -> tuple[Path, BuildLock]:
    """Write a complete build next to ``link``, point ``link`` at it atomically, then tell the
    backend that this build now serves; the build, and the shared lock that keeps it while this
    process serves it."""
    builds = _builds(link)
    builds.mkdir(parents=True, exist_ok=True)
    build = builds / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    lock = build_locks.claim(build)
    tmp = build_locks.partial(build)
    try:
        tmp.mkdir()
        with (tmp / "articles.jsonl").open("w", encoding="utf-8") as out:
            for article in data.articles.values():
                out.write(json.dumps(asdict(article), ensure_ascii=False) + "\n")
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as out:
            for c in data.chunks:
                out.write(json.dumps([c.id, c.article_id, c.start, c.end]) + "\n")
        np.save(tmp / "vectors.npy", data.vectors)
        data.dense.save(tmp / backend.dense_file)
        data.bm25.save(tmp)
        (tmp / "acronyms.json").write_text(json.dumps(data.acronyms, ensure_ascii=False), "utf-8")
        (tmp / "names.json").write_text(json.dumps(sorted(data.names), ensure_ascii=False), "utf-8")
        # the manifest goes last: a folder without one is never loaded
        (tmp / "manifest.json").write_text(json.dumps(asdict(data.manifest), indent=2), "utf-8")
        tmp.rename(build)
        staged = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}")
        staged.symlink_to(Path("builds") / build.name)
        os.replace(staged, link)
    except BaseException:
        lock.release()
        remove_unused(link)  # this build's partial folder among them
        raise
    lock.share()
    backend.published(build)
    return build, lock


def _builds(link: Path) -> Path:
    return link.parent / "builds"


def remove_unused(link: Path) -> list[Path]:
    """Remove the builds beside ``link`` that it does not point at and that no live process
    writes or serves: partial ones a killed build left, and older complete ones."""
    return build_locks.remove_unused(_builds(link), link)


def read_manifest(link: Path) -> Manifest:
    path = link / "manifest.json"
    if not path.exists():
        raise IndexMissingError(f"Chưa có chỉ mục ở {link}. Hãy chạy `qa index` trước.")
    try:
        raw = json.loads(path.read_text("utf-8"))
        manifest = Manifest(**raw)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"Tệp manifest của chỉ mục hỏng ({path}). {_REINDEX}") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"Chỉ mục dùng định dạng {manifest.format_version}, phiên bản này cần "
            f"{FORMAT_VERSION}. {_REINDEX}"
        )
    return manifest


def load_embedded(link: Path, model: str) -> EmbeddedBuild:
    """A build's articles, chunks and vectors, whichever backend it was built for (what the
    next build reuses, so switching backends or losing a collection re-embeds nothing)."""
    manifest = read_manifest(link)
    if manifest.model != model:
        raise IndexCorruptError(
            f"Chỉ mục được tạo bằng mô hình {manifest.model!r}, cấu hình hiện tại dùng "
            f"{model!r}. {_REINDEX}"
        )
    try:
        articles = ArticleFile(link / "articles.jsonl")
        chunks = ChunkTable(link / "chunks.jsonl", articles)
        vectors = np.load(link / "vectors.npy", mmap_mode="r")  # read only when re-indexing
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise _corrupt(link, exc) from exc
    if len({len(chunks), len(vectors), manifest.chunk_count}) != 1 or (
        len(vectors) and vectors.shape[1] != manifest.dim
    ):
        raise IndexCorruptError(f"Các phần của chỉ mục ở {link} không khớp nhau. {_REINDEX}")
    return EmbeddedBuild(manifest, articles, chunks, vectors, link)


def load(link: Path, model: str, backend: IndexBackend) -> IndexData:
    """Load and check a build; any mismatch or damage says to re-index."""
    embedded = load_embedded(link, model)
    manifest = embedded.manifest
    if manifest.backend != backend.name:
        raise IndexCorruptError(
            f"Chỉ mục được tạo cho HOIDAP_INDEX_BACKEND={manifest.backend}, cấu hình hiện tại "
            f"dùng {backend.name}. {_REINDEX}"
        )
    try:
        dense, bm25 = backend.load(link, manifest.index_kind)
        acronyms = json.loads((link / "acronyms.json").read_text("utf-8"))
        names = frozenset(json.loads((link / "names.json").read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise _corrupt(link, exc) from exc
    if len({len(dense), len(bm25), manifest.chunk_count}) != 1:
        raise IndexCorruptError(f"Các phần của chỉ mục ở {link} không khớp nhau. {_REINDEX}")
    return IndexData(
        manifest,
        embedded.articles,
        embedded.chunks,
        embedded.vectors,
        dense,
        bm25,
        acronyms,
        names,
    )


def _corrupt(link: Path, exc: Exception) -> IndexCorruptError:
    # (a truncated .npz is not a zip file any more)
    return IndexCorruptError(f"Chỉ mục ở {link} bị hỏng hoặc thiếu tệp ({exc}). {_REINDEX}")
