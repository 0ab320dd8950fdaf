"""The compute pool's admission: questions beyond the workers and the queue are refused, and the
steps of a stream already under way count towards that bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

from qa.core.errors import BusyError
from web.compute import Compute


def _gated_stream(gate: threading.Event, started: threading.Event) -> Iterator[str]:
    yield "first"
    started.set()
    gate.wait(10)
    yield "second"


def test_a_running_stream_step_fills_the_queue() -> None:
    compute = Compute(workers=1, queue=0)
    gate, started = threading.Event(), threading.Event()

    async def scenario() -> tuple[list[str], int]:
        stream = _gated_stream(gate, started)
        first = await compute.run(next, stream)
        items = [first]
        async with anyio.create_task_group() as group:

            async def rest() -> None:
                items.extend([item async for item in compute.iterate(stream)])

            group.start_soon(rest)
            await anyio.to_thread.run_sync(started.wait, 10)
            admitted_during_step = compute.admitted
            with pytest.raises(BusyError):
                await compute.run(str, "refused while the stream's step holds the worker")
            gate.set()
        return items, admitted_during_step

    items, admitted = anyio.run(scenario)
    assert items == ["first", "second"]
    assert admitted == 1
    assert compute.admitted == 0


def test_a_failing_step_is_released() -> None:
    compute = Compute(workers=1, queue=0)

    def broken() -> Iterator[str]:
        raise RuntimeError("the model failed")
        yield "never"

    async def scenario() -> None:
        with pytest.raises(RuntimeError):
            [item async for item in compute.iterate(broken())]

    anyio.run(scenario)
    assert compute.admitted == 0
    assert anyio.run(compute.run, str, "ok") == "ok"
