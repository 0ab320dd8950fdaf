"""Where the blocking work (retrieve, read, answer) runs: a few threads and a bounded wait.

The event loop only parses requests and writes responses. Questions are computed on at most
``workers`` threads at once (about one per core: more only share the same cores), and at most
``queue`` more wait for one; a question beyond that is refused at once with ``BusyError`` (503
with ``Retry-After``) rather than waiting so long that clients time out or connections drop.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import anyio
import anyio.to_thread

from qa.core.errors import BusyError

T = TypeVar("T")
_DONE = object()


class Compute:
    def __init__(self, workers: int, queue: int) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0; got {workers} and {queue}")
        self.workers = workers
        self.queue = queue
        self._limiter = anyio.CapacityLimiter(workers)
        self._admitted = 0  # running or waiting; only touched on the event loop
        self._seconds = 0.05  # moving average of one job's time, for Retry-After

    @property
    def admitted(self) -> int:
        return self._admitted

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on a worker thread, once there is room; ``BusyError`` if there is none."""
        if self._admitted >= self.workers + self.queue:
            raise BusyError(
                "Máy chủ đang bận trả lời nhiều câu hỏi. Vui lòng thử lại sau ít giây.",
                self.retry_after(),
            )
        return await self._counted(work, *args)

    async def iterate(self, items: Iterator[T]) -> AsyncIterator[T]:
        """The rest of a stream a request was admitted for, each step on a worker thread.

        A step is never refused (the stream has begun) but it counts as admitted while it runs or
        waits, so a new question sees the streams' steps in the queue ahead of it.
        """
        while (item := await self._counted(next, items, _DONE)) is not _DONE:
            yield item  # type: ignore[misc]

    async def _counted(self, work: Callable[..., T], *args: object) -> T:
        self._admitted += 1
        try:
            return await self._on_thread(work, *args)
        finally:
            self._admitted -= 1

    def retry_after(self) -> int:
        """Seconds until the queue ahead of a new question has likely drained."""
        waiting = max(self._admitted - self.workers + 1, 1)
        return max(1, math.ceil(waiting * self._seconds / self.workers))

    async def _on_thread(self, work: Callable[..., T], *args: object) -> T:
        def timed() -> T:
            clock = time.perf_counter()
            try:
                return work(*args)
            finally:
                self._seconds = 0.9 * self._seconds + 0.1 * (time.perf_counter() - clock)

        return await anyio.to_thread.run_sync(timed, limiter=self._limiter)
