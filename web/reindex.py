"""Re-indexing in the background for the admin page; the chat keeps answering from the previous
index until the pipeline swaps the new build in (``qa.index.store.save`` is atomic)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Literal

from qa.core.errors import HoidapError
from qa.pipeline import Pipeline

State = Literal["idle", "running", "done", "failed"]
# the share of the bar each reported stage fills up to
_STAGE_END = {"load": 0.05, "embed": 0.85, "keywords": 0.95}
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReindexStatus:
    state: State = "idle"
    stage: str = ""
    fraction: float = 0.0  # of the whole job, 0..1
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None


class Reindexer:
    """At most one build at a time; starting while one runs gives the running one's status."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._lock = threading.Lock()
        self._status = ReindexStatus()
        self._thread: threading.Thread | None = None

    def status(self) -> ReindexStatus:
        with self._lock:
            return self._status

    def start(self) -> ReindexStatus:
        with self._lock:
            if self._status.state != "running":
                self._status = ReindexStatus("running", "load", 0.0, "", time.time())
                self._thread = threading.Thread(target=self._run, name="reindex", daemon=True)
                self._thread.start()
            return self._status

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _progress(self, stage: str, done: int, total: int) -> None:
        ends = list(_STAGE_END.values())
        end = _STAGE_END.get(stage, ends[-1])
        begin = max([0.0, *(e for e in ends if e < end)])
        share = done / total if total else 1.0
        with self._lock:
            self._status = replace(
                self._status, stage=stage, fraction=begin + (end - begin) * share
            )

    def _run(self) -> None:
        try:
            report = self.pipeline.index(on_progress=self._progress)
        except HoidapError as exc:
            self._finish("failed", str(exc))
        except Exception:
            logger.exception("Re-indexing failed")
            self._finish("failed", "Lập chỉ mục thất bại vì một lỗi không mong muốn (xem nhật ký).")
        else:
            self._finish(
                "done",
                f"Đã lập chỉ mục {report.chunks} đoạn: {len(report.added)} bài mới, "
                f"{len(report.changed)} bài đổi, {len(report.removed)} bài bỏ.",
            )

    def _finish(self, state: State, message: str) -> None:
        with self._lock:
            fraction = 1.0 if state == "done" else self._status.fraction
            self._status = replace(
                self._status,
                state=state,
                stage="",
                fraction=fraction,
                message=message,
                finished_at=time.time(),
            )
