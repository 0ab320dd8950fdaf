"""One start-up of `qa ask` or `qa serve`, step by step, in a fresh interpreter.

``python -m bench.startup_probe ask|serve QUESTION`` does what the command does before its first
answer, in the same order (click and the settings, the index, the embedding model, the answerer,
the first answer; for serve the web app too), and prints one JSON object: for each step its
seconds and the part of them spent importing modules. ``bench.startup`` runs it in fresh
subprocesses; the settings come from the environment (``HOIDAP_*``), as for the command.
"""

from __future__ import annotations

import importlib._bootstrap as bootstrap
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

STARTED = time.time()  # wall clock, comparable with the parent's: the interpreter's start-up


class ImportClock:
    """Seconds spent in top-level imports (a module's own imports count once, in it), from
    the hook every ``import`` statement goes through, as ``-X importtime`` does."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = threading.local()
        self._original = bootstrap._find_and_load  # type: ignore[attr-defined]

    def __enter__(self) -> ImportClock:
        original = self._original

        def timed(name: str, import_: Callable[..., Any]) -> Any:
            if getattr(self._inner, "active", False):
                return original(name, import_)
            self._inner.active = True
            clock = time.perf_counter()
            try:
                return original(name, import_)
            finally:
                self.seconds += time.perf_counter() - clock
                self._inner.active = False

        bootstrap._find_and_load = timed  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        bootstrap._find_and_load = self._original  # type: ignore[attr-defined]


def probe(command: str, question: str) -> dict[str, Any]:
    steps: dict[str, dict[str, float]] = {}
    with ImportClock() as imports:

        def step(name: str, fn: Callable[[], Any]) -> Any:
            before, clock = imports.seconds, time.perf_counter()
            value = fn()
            seconds = time.perf_counter() - clock
            steps[name] = {"seconds": seconds, "import_s": imports.seconds - before}
            return value

        def cli() -> Any:
            # what the `qa` module imports (bench sits below qa.cli in the layers)
            import click  # noqa: F401

            from qa.core.settings import Settings
            from qa.pipeline import Pipeline

            return Pipeline(Settings())

        pipeline = step("cli", cli)
        if command == "serve":

            def web() -> None:
                import uvicorn  # noqa: F401

                from web import server  # noqa: F401
                from web.app import create_app  # noqa: F401

            step("web", web)
        step("index", lambda: pipeline.data)
        step("model", lambda: pipeline.embedder)
        step("answerer", pipeline.answerer)
        if command == "serve":
            from web.app import create_app

            step("app", lambda: create_app(pipeline.settings, pipeline))
        answer = step("first_answer", lambda: pipeline.ask(question))
    return {
        "command": command,
        "started": STARTED,
        "steps": steps,
        "answered": not answer.refused,
        "modules": len(sys.modules),
        "torch": "torch" in sys.modules,
        "transformers": "transformers" in sys.modules,
        "sentence_transformers": "sentence_transformers" in sys.modules,
    }


if __name__ == "__main__":
    result = probe(sys.argv[1], sys.argv[2])
    result["finished"] = time.time()  # what follows is the interpreter shutting down
    json.dump(result, sys.stdout)
