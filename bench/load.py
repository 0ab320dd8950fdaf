"""Section 4: the chat server under load, on loopback only, bounded in requests and time.

uvicorn serves ``create_app(settings, pipeline)`` over the bundled corpus in a child process
(``bench/load_server.py``, configured as ``qa serve`` is); an asyncio httpx client keeps 1, 8, 32
or 200 requests in flight against ``POST /api/ask``. Every request asks a different question (a
share of the bundled eval set, topped up with dev benchmark questions, mostly refused over the
bundled corpus), so the query-embedding cache never answers for the model. Then the mixed run
(``bench/load_mixed.py``): 200 clients with 3 different requests each, and every acknowledged
write looked up in the server's database once it has stopped.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import httpx

from bench import load_mixed
from bench.corpus import BUNDLED
from bench.machine import machine_info
from bench.report import Section
from bench.stats import percentiles
from qa.core.settings import PROJECT_ROOT, Settings

BUNDLED_SET = PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl"


def question_batches(
    dev_questions: Path | None, levels: int, size: int, seed: int = 6
) -> list[list[str]]:
    """One batch of distinct questions per load level, each with the same mix: an equal share
    of the bundled eval set (answerable) topped up with dev questions (mostly refused)."""

    def read(path: Path | None) -> list[str]:
        if path is None or not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        return list(dict.fromkeys(r["question"] for r in rows))

    rng = random.Random(seed)
    bundled, dev = read(BUNDLED_SET), read(dev_questions)
    rng.shuffle(bundled)
    rng.shuffle(dev)
    batches = []
    for level in range(levels):
        own = bundled[level::levels][:size]
        batch = own + dev[: size - len(own)]
        dev = dev[size - len(own) :]
        rng.shuffle(batch)
        batches.append(batch)
    return batches


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the chat server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the chat server did not answer /healthz within {limit_s:.0f} s")


async def _load(
    url: str, questions: list[str], clients: int, time_limit_s: float
) -> tuple[list[float], int, int, float]:
    """Latencies of the successful requests, errors, refusals, and the wall time."""
    latencies: list[float] = []
    errors = refused = 0
    queue = iter(questions)
    deadline = time.perf_counter() + time_limit_s

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors, refused
        for question in queue:
            if time.perf_counter() > deadline:
                return
            clock = time.perf_counter()
            try:
                response = await http.post("/api/ask", json={"question": question})
            except httpx.HTTPError:
                errors += 1
                continue
            if response.status_code == 200:
                latencies.append(time.perf_counter() - clock)
                refused += bool(response.json().get("refused"))
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return latencies, errors, refused, time.perf_counter() - start


def _start_server(
    settings: Settings, scratch: Path
) -> tuple[str, subprocess.Popen[bytes], IO[str]]:
    """The chat server over the bundled corpus in a child process: its URL, process and log."""
    server_settings = settings.model_copy(update={"data_dir": scratch, "articles": [BUNDLED]})
    settings_file = scratch / "settings.json"
    settings_file.write_text(server_settings.model_dump_json(), "utf-8")
    port = free_port()
    log_file = (scratch / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.load_server", str(settings_file), str(port)],
        cwd=PROJECT_ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return f"http://127.0.0.1:{port}", process, log_file


def run(
    settings: Settings,
    *,
    levels: tuple[int, ...],
    requests: int,
    time_limit_s: float,
    mixed_clients: int,
    dev_questions: Path | None,
    log: Callable[[str], None],
) -> Section:
    section = Section("server", machine_info())
    table = section.table(
        "POST /api/ask, each level of concurrent clients",
        [
            "concurrent clients",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "requests",
            "errors",
            "refused",
        ],
    )
    (settings.data_dir / "bench").mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="server-", dir=settings.data_dir / "bench"))
    url, process, log_file = _start_server(settings, scratch)
    *batches, mixed_questions = question_batches(dev_questions, len(levels) + 1, requests)
    mixed = None
    try:
        log("server: starting uvicorn (indexes the bundled corpus, loads the model)")
        _wait_healthy(url, process, 300)
        for clients, batch in zip(levels, batches, strict=True):
            log(f"server: {clients} concurrent clients, {len(batch)} requests")
            lat, errors, refused, wall = asyncio.run(_load(url, batch, clients, time_limit_s))
            p = percentiles(lat) if lat else {"p50": 0.0, "p95": 0.0, "p99": 0.0}
            table.add(
                clients,
                f"{len(lat) / wall:.1f}",
                *(f"{p[k] * 1000:.0f}" for k in p),
                len(lat),
                errors,
                refused,
            )
            section.data[str(clients)] = {
                "rps": len(lat) / wall,
                **p,
                "n": len(lat),
                "errors": errors,
            }
        if mixed_clients:
            log(f"server: mixed run, {mixed_clients} clients x 3 requests")
            mixed = load_mixed.run(
                url, mixed_questions, clients=mixed_clients, per_client=3, timeout_s=300
            )
    finally:
        _stop(process)
        log_file.close()
    if mixed is not None:
        _report_mixed(section, mixed, scratch / "hoidap.sqlite3")
    shutil.rmtree(scratch, ignore_errors=True)
    section.notes += [
        f"Each level sends at most {requests} requests or runs at most {time_limit_s:.0f} s.",
        "One uvicorn worker (as `qa serve` runs it) in a child process; the load generator "
        "shares the same cores. Each request is a new conversation; the server also writes "
        "each turn to its SQLite store.",
        "Questions: every request asks a different one; each level gets an equal share of the "
        "bundled eval set (answerable) and dev benchmark questions about articles not in the "
        "bundled corpus (mostly refused, a cheaper path); the `refused` column shows the mix.",
        f"Server settings: {settings.server_workers or 'one per core'} question threads, queue "
        f"{settings.server_queue}, {settings.server_library_threads} library thread(s) per "
        f"question, keep-alive {settings.server_keep_alive} s; the client pool keeps idle "
        "connections 5 s (httpx's default).",
    ]
    return section


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: uvicorn finishes open requests and closes the database."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _report_mixed(section: Section, mixed: load_mixed.MixedResult, db_path: Path) -> None:
    missing, integrity = load_mixed.missing_writes(db_path, mixed.written)
    table = section.table(
        "Mixed: many clients at once, a few different requests each",
        ["request", "ok", "errors", "p50 ms", "p95 ms"],
    )
    for row in load_mixed.latency_rows(mixed):
        table.add(*row)
    acknowledged = len(mixed.written.messages) + len(mixed.written.ratings)
    section.notes += [
        f"Mixed run: {mixed.clients} clients at once x {mixed.per_client} requests "
        f"({mixed.requests} requests in {mixed.wall_s:.1f} s, "
        f"{mixed.requests / mixed.wall_s:.1f} requests/s). "
        "Each client has its own connection and `X-Client-Id`; it asks (`/api/ask`, "
        "or `/api/ask/stream` for every other client), then searches (`/api/search`, or "
        "`/v1/chat/completions` for every other pair), then rates its answer (`/api/feedback`). "
        "Errors: "
        + (", ".join(f"{what} x{n}" for what, n in sorted(mixed.errors.items())) or "none")
        + ".",
        f"After the mixed run (server stopped): {acknowledged} acknowledged writes "
        f"({len(mixed.written.messages)} turns, {len(mixed.written.ratings)} ratings), "
        f"{len(missing)} missing from the database"
        + (f" ({', '.join(missing[:5])}…)" if missing else "")
        + f"; `PRAGMA integrity_check`: {integrity}.",
    ]
    section.data["mixed"] = {
        "clients": mixed.clients,
        "requests": mixed.requests,
        "wall_s": mixed.wall_s,
        "errors": dict(mixed.errors),
        "missing_writes": len(missing),
        "integrity": integrity,
        "latency": {k: percentiles(v) for k, v in mixed.latencies.items() if v},
    }
