"""Server-sent events from a blocking iterator.

Starlette iterates a sync iterator in its threadpool, so pipeline work never blocks the event
loop. The first step runs before the response starts (``primed``): errors there, such as a missing
index, become ordinary error responses; later ones can only be reported in the stream itself.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from web.errors import Problem, describe

T = TypeVar("T")
logger = logging.getLogger(__name__)

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(data: str, name: str | None = None) -> str:
    """One event; ``data`` is a single line (JSON from ``json.dumps`` always is)."""
    return (f"event: {name}\n" if name else "") + f"data: {data}\n\n"


def primed(events: Iterator[T]) -> Iterator[T]:
    """Run the first step now, so that its errors are raised here and not mid-stream."""
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    return itertools.chain([first], events)


def guarded(events: Iterator[str], on_error: Callable[[Problem], str]) -> Iterator[str]:
    """The encoded events, ending with ``on_error(problem)`` if producing them fails."""
    try:
        yield from events
    except Exception as exc:
        problem = describe(exc)
        if problem.status >= 500:
            logger.exception("Stream failed: %s", problem.message)
        yield on_error(problem)
