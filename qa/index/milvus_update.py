"""Updating the serving collection in place: only the rows of added and changed articles are
written, and the rows of changed and removed ones are deleted once the new build is published.

Rows are keyed by content (``qa.index.passage_keys``), so the serving build and the one being
written share the rows of unchanged articles. Each build folder keeps its keys
(``milvus_keys.npy``) and search drops the rows a build does not own, so an update may be killed
at any point: before the link swap the previous build serves and ignores the rows already
written; after it the new build ignores the rows not yet deleted. The next update upserts (a
killed run's rows with the same keys are replaced, not doubled) and, when the collection still
holds more rows than the new build owns, finds the rest and deletes them.

A full rebuild (a new collection, then the alias) is made instead when the previous build has
no compatible collection (another backend, schema, dimension, index kind or BM25 parameters),
when more than half of the rows would be written anyway (a cost rule: a new collection is then
cheaper than writes plus deletes), when another update holds the lock, or when updates are off
(``HOIDAP_MILVUS_UPDATE``: milvus-lite keeps BM25 statistics per segment, so an update's rows,
a small segment of their own, are scored against that segment alone). One update at a time
per alias: an exclusive ``flock`` on a file in DATA_DIR, which also records the last build
published in place, so an update whose previous build is no longer that one (its rows may have
been deleted since) rebuilds instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.index.milvus_client import MilvusConnection

POINTER_FILE = "milvus.json"  # names a build's collection and how it was made
KEYS_FILE = "milvus_keys.npy"  # a build's row keys, by position
_DELETE_BATCH = 1000
_SCAN_BATCH = 10_000


@dataclass
class Update:
    """An update in place of ``collection``, holding the lock until ``release``."""

    connection: MilvusConnection
    collection: str
    fresh: np.ndarray  # which rows of the new build the collection lacks
    stale: np.ndarray  # the keys of previous rows the new build does not own
    fd: int

    @classmethod
    def start(
        cls,
        connection: MilvusConnection,
        alias: str,
        previous: Path | None,
        keys: np.ndarray,
        expected: dict[str, Any],
        lock: Path,
    ) -> Update | None:
        """The update of ``previous``'s collection into a build of ``keys``, or None when a
        full rebuild is due."""
        target = _compatible(connection, alias, previous, expected)
        if target is None or previous is None:
            return None
        name, old = target
        fresh = ~np.isin(keys, old)
        if 2 * int(fresh.sum()) > len(keys):
            return None
        fd = _claim(lock)
        if fd is None:
            return None
        last = _record(fd)
        if last.get("collection") == name and last.get("build") not in (None, previous.name):
            os.close(fd)
            return None
        return cls(connection, name, fresh, np.setdiff1d(old, keys), fd)

    def clean(self, build: Path, keys: np.ndarray) -> None:
        """``build`` (owning ``keys``) is published: delete every other row of the collection."""
        os.ftruncate(self.fd, 0)
        os.pwrite(
            self.fd, json.dumps({"collection": self.collection, "build": build.name}).encode(), 0
        )
        self._delete(self.stale)
        if self.connection.count(self.collection) > len(keys):
            self._delete(self._unowned(keys))

    def _unowned(self, keys: np.ndarray) -> np.ndarray:
        """Every key in the collection not in ``keys`` (a scan: only after a killed run)."""

        def scan(c: Any) -> list[np.ndarray]:
            found = []
            rows = c.query_iterator(
                self.collection, batch_size=_SCAN_BATCH, filter="", output_fields=["id"]
            )
            try:
                while batch := rows.next():
                    ids = np.array([r["id"] for r in batch], dtype=np.int64)
                    found.append(ids[~np.isin(ids, keys)])
            finally:
                rows.close()
            return found

        return np.concatenate([np.zeros(0, np.int64), *self.connection.call(scan)])

    def _delete(self, keys: np.ndarray) -> None:
        for offset in range(0, len(keys), _DELETE_BATCH):
            batch = keys[offset : offset + _DELETE_BATCH].tolist()
            self.connection.call(lambda c, batch=batch: c.delete(self.collection, ids=batch))

    def release(self) -> None:
        with contextlib.suppress(OSError):  # already closed
            os.close(self.fd)


def _compatible(
    connection: MilvusConnection, alias: str, previous: Path | None, expected: dict[str, Any]
) -> tuple[str, np.ndarray] | None:
    """The collection and keys of ``previous`` when its rows are what a new build would write."""
    if previous is None:
        return None
    try:
        pointer = json.loads((previous / POINTER_FILE).read_text("utf-8"))
        keys = np.load(previous / KEYS_FILE)
        name = str(pointer["collection"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # another backend's build, or one from before row keys
    if any(pointer.get(k) != v for k, v in expected.items()) or not name.startswith(f"{alias}_"):
        return None
    if not connection.call(lambda c: c.has_collection(name)):
        return None
    return name, keys


def _claim(lock: Path) -> int | None:
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _record(fd: int) -> dict[str, Any]:
    try:
        return dict(json.loads(os.pread(fd, 4096, 0) or b"{}"))
    except ValueError:
        return {}
