"""Articles an admin uploads in the page, kept in ``DATA_DIR/uploads`` (the bundled corpus is
never written). Each file is checked as ``qa index`` would read it before it is kept."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import HoidapError, InputError, NotFoundError
from qa.ingest.loading import SUFFIXES, article_id, load_file
from qa.text.vietnamese import fold


@dataclass(frozen=True)
class Uploaded:
    name: str
    size: int
    modified: float


@dataclass(frozen=True)
class UploadResult:
    """What became of one file: kept (``articles`` it holds) or rejected with ``message``."""

    filename: str
    name: str
    accepted: bool
    message: str
    articles: tuple[str, ...] = ()


def stored_name(filename: str) -> str:
    """The name a file is kept under: its own without folders or diacritics, made safe (its
    stem becomes the article id): "C:\\docs\\Bài mới.TXT" -> "bai-moi.txt"."""
    path = Path(filename.replace("\\", "/")).name
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"chỉ nhận tệp {', '.join(SUFFIXES)} (tệp này là {suffix or 'không đuôi'})"
        )
    return article_id(fold(Path(path).stem)) + suffix


class Uploads:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        # beside the folder, not in it: `qa index` reads everything under the folder
        self._incoming = folder.with_name(f".{folder.name}-incoming")

    def files(self) -> list[Uploaded]:
        if not self.folder.is_dir():
            return []
        return [
            Uploaded(p.name, p.stat().st_size, p.stat().st_mtime)
            for p in sorted(self.folder.iterdir())
            if p.is_file()
        ]

    def add(self, filename: str, data: bytes, indexed: dict[str, str]) -> UploadResult:
        """Keep the file if it reads as articles whose ids no other source has; ``indexed``
        maps the current index's article ids to their paths."""
        try:
            name = stored_name(filename)
        except InputError as exc:
            return UploadResult(filename, "", False, f"{filename or '(không tên)'}: {exc}")
        try:
            ids = self._check_and_keep(name, data, indexed)
        except HoidapError as exc:
            return UploadResult(filename, name, False, str(exc))
        shown = ", ".join(ids)
        return UploadResult(filename, name, True, f"{name}: đã nhận ({shown}).", tuple(ids))

    def remove(self, name: str) -> None:
        path = self.folder / name
        if name != Path(name).name or not path.is_file():
            raise NotFoundError(f"Không có tệp tải lên {name!r}.")
        path.unlink()

    def _check_and_keep(self, name: str, data: bytes, indexed: dict[str, str]) -> list[str]:
        if len(data) > self.max_bytes:
            raise InputError(
                f"{name}: tệp quá lớn ({len(data):,} byte; tối đa {self.max_bytes:,})."
            )
        if b"\x00" in data:
            raise InputError(f"{name}: không phải tệp văn bản (có byte NUL).")
        self._incoming.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self._incoming))
        try:
            candidate = staging / name
            candidate.write_bytes(data)
            try:
                articles = load_file(candidate)
            except InputError as exc:
                raise InputError(str(exc).replace(str(candidate), name)) from exc
            ids = [a.id for a in articles]
            self._check_ids(name, ids, indexed)
            self.folder.mkdir(parents=True, exist_ok=True)
            os.replace(candidate, self.folder / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return ids

    def _check_ids(self, name: str, ids: list[str], indexed: dict[str, str]) -> None:
        """No id may belong to another source: an indexed article from elsewhere, or another
        upload not indexed yet (this file's own earlier version may be replaced)."""
        mine = str((self.folder / name).resolve())
        taken = {i: path for i, path in indexed.items() if not path.startswith(mine)}
        for other in self.files():
            if other.name != name:
                try:
                    taken |= {a.id: other.name for a in load_file(self.folder / other.name)}
                except InputError:
                    continue  # a file broken since it was kept is reported by the re-index
        clashes = [f"{i!r} (đã có trong {Path(taken[i]).name})" for i in ids if i in taken]
        if clashes:
            raise InputError(f"{name}: trùng mã bài viết {', '.join(clashes)}.")
