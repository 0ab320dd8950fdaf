"""Who still uses a build folder under ``DATA_DIR/builds``: an ``flock`` on the lock file beside it.

A build takes an exclusive lock on ``<id>.lock`` before its ``<id>.partial`` folder exists and
keeps it until its link is swapped in; a process that serves a build holds a shared lock on the
same file. A folder is removed only by a process that takes the exclusive lock without waiting,
so neither a build another process is still writing (a web re-index and a ``qa index`` in a
shell can run at once) nor one a server still reads is removed, while the lock of a killed
build goes with its process.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import weakref
from pathlib import Path

_PARTIAL = ".partial"
_LOCK = ".lock"


def partial(build: Path) -> Path:
    """The folder a build is written into before it is complete."""
    return build.with_name(build.name + _PARTIAL)


def _lock_file(folder: Path) -> Path:
    return folder.with_name(folder.name.removesuffix(_PARTIAL) + _LOCK)


class BuildLock:
    """An open lock file (none for a build written before builds were locked); closed by
    ``release`` or when the lock is garbage collected."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._close = weakref.finalize(self, os.close, fd) if fd is not None else None

    def share(self) -> None:
        """From the builder's exclusive lock to a serving one (others may serve it too)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._close is not None:
            self._close()


def claim(build: Path) -> BuildLock:
    """The exclusive lock of a new build, taken before its partial folder is made."""
    path = _lock_file(build)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        # a cleanup may have unlinked an orphan lock file of this name before we locked it
        if _same_file(fd, path):
            return BuildLock(fd)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def hold(build: Path) -> BuildLock | None:
    """A shared lock on a complete build that this process is about to serve; None when the
    build is being removed or is gone (the link has moved on: resolve it again)."""
    try:
        fd = os.open(_lock_file(build), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        # a build folder without a lock file is one written before builds were locked
        return BuildLock(None) if build.is_dir() else None
    lock = BuildLock(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.release()
        return None
    if not build.is_dir():  # removed between opening and locking
        lock.release()
        return None
    return lock


def remove_unused(builds: Path, link: Path) -> list[Path]:
    """Remove every build, partial or complete, that no live process builds or serves and that
    ``link`` does not point at (and lock files a killed build left alone); what was removed."""
    if not builds.is_dir():
        return []
    ids = {p.name.removesuffix(_PARTIAL).removesuffix(_LOCK) for p in builds.iterdir()}
    removed = []
    for build in sorted(builds / i for i in ids):
        try:
            fd: int | None = os.open(_lock_file(build), os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None  # written before builds were locked
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folders = [f for f in (build, partial(build)) if f.is_dir() and not f.is_symlink()]
            # read after taking the lock: a build swaps its link in while it holds its own
            if build in folders and link.exists() and link.resolve() == build.resolve():
                continue
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
            _lock_file(build).unlink(missing_ok=True)
            removed.extend(folders)
        except BlockingIOError:
            continue
        finally:
            if fd is not None:
                os.close(fd)
    return removed
