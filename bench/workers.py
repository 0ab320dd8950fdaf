"""Run a measurement in a fresh child process, so its peak memory is its own."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a new spawned process (``fn`` must be importable)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()
