"""Section 5: start-up of `qa ask` and `qa serve`, each run in a fresh process.

The bundled corpus is indexed once into a scratch data folder (the model cache is the settings'
one). Then, ``repeats`` times: ``qa --help`` and ``qa ask QUESTION`` as a user runs them from a
shell (seconds until the process exits); ``qa serve`` on a free port (seconds until ``/healthz``
first answers 200, then until the first ``POST /api/ask`` answer); and ``bench.startup_probe``
for each command, which takes the same steps in a fresh interpreter with a clock around each,
for the breakdown: the interpreter starting, imports, model loads (embedding model and answerer), index
load, web app, first answer, the interpreter shutting down. Every process gets the scratch folder and the settings' model,
model cache, answerer and backends (embedding, reader, index) through ``HOIDAP_*``; other ``HOIDAP_*`` variables pass on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import BUNDLED
from bench.load import free_port
from bench.machine import machine_info
from bench.query_context import bench_dir
from bench.report import Section, Target
from bench.stats import spread
from qa.core.settings import PROJECT_ROOT, Settings

QUESTION = "Cao Bằng có bao nhiêu huyện biên giới?"
TARGET_ASK_S = 3.0
LIMIT_S = 600.0  # one start-up on a very busy machine takes minutes, never this long
# the probe's steps, grouped into the breakdown's columns
GROUPS = {
    "model": ("model", "answerer"),
    "index": ("index",),
    "web app": ("web", "app"),
    "first answer": ("first_answer",),
}


def _environment(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOIDAP_DATA_DIR=str(data_dir),
        HOIDAP_MODEL=settings.model,
        HOIDAP_MODEL_CACHE_DIR=str(settings.model_cache_dir),
        HOIDAP_ANSWERER=settings.answerer,
        HOIDAP_EMBED_BACKEND=settings.embed_backend,
        HOIDAP_READER_BACKEND=settings.reader_backend,
        HOIDAP_INDEX_BACKEND=settings.index_backend,
    )
    return env


def _qa(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa.cli", *args]


def _timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``command`` to its exit (which must be 0)."""
    clock = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=LIMIT_S
    )
    seconds = time.perf_counter() - clock
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed: {done.stderr.strip()[-500:]}")
    return seconds


def _serve(env: dict[str, str], question: str) -> dict[str, float]:
    """Seconds from starting ``qa serve`` to its first healthy ``/healthz`` and to its first
    answer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clock = time.perf_counter()
    process = subprocess.Popen(
        _qa("serve", "--port", str(port)),
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while not _healthy(url):
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"qa serve exited with {process.returncode}: {error[-500:]}")
            if time.perf_counter() - clock > LIMIT_S:
                raise RuntimeError(f"qa serve did not answer /healthz within {LIMIT_S:.0f} s")
            time.sleep(0.02)
        healthy = time.perf_counter() - clock
        request = urllib.request.Request(
            f"{url}/api/ask",
            data=json.dumps({"question": question}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=LIMIT_S) as response:
            json.load(response)
        return {"healthz": healthy, "first_answer": time.perf_counter() - clock}
    finally:
        process.terminate()
        process.wait(timeout=60)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _probe(command: str, env: dict[str, str], question: str) -> dict[str, Any]:
    """The probe's steps for ``command``, with the seconds before its first step (the
    interpreter starting) and after its last one (the interpreter shutting down)."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup_probe", command, question],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
    )
    finished = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"the {command} probe failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout)
    result["python_start"] = result["started"] - started
    result["python_exit"] = finished - result["finished"]
    result["wall"] = finished - started
    return result


def import_shares(importtime: str, top: int = 8) -> list[tuple[str, float]]:
    """Seconds of ``-X importtime`` output by top-level package (each module's own time,
    summed), the ``top`` largest and then ``other``."""
    per: dict[str, float] = {}
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line, or another line on stderr
        package = parts[2].strip().split(".")[0]
        per[package] = per.get(package, 0.0) + int(parts[0]) / 1e6
    ranked = sorted(per.items(), key=lambda kv: kv[1], reverse=True)
    other = sum(seconds for _, seconds in ranked[top:])
    return [*ranked[:top], *([("other", other)] if other else [])]


def _importtime(env: dict[str, str], question: str) -> str:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qa.cli", "ask", question],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"qa ask -X importtime failed: {done.stderr.strip()[-500:]}")
    return done.stderr


def breakdown(probe: dict[str, Any]) -> dict[str, float]:
    """Seconds of one probe run by column: imports (of every step) apart from the work."""
    steps = probe["steps"]
    columns = {"python start": probe["python_start"]}
    columns["import"] = sum(s["import_s"] for s in steps.values())
    for column, names in GROUPS.items():
        columns[column] = sum(
            steps[n]["seconds"] - steps[n]["import_s"] for n in names if n in steps
        )
    columns["cli"] = steps["cli"]["seconds"] - steps["cli"]["import_s"]
    columns["python exit"] = probe["python_exit"]
    columns["total"] = probe["wall"]
    return columns


def run(
    settings: Settings,
    repeats: int,
    budget_s: float,
    log: Callable[[str], None],
    question: str = QUESTION,
) -> Section:
    from qa.pipeline import Pipeline

    section = Section("startup", machine_info())
    scratch = Path(tempfile.mkdtemp(prefix="startup-", dir=bench_dir(settings)))
    try:
        log("startup: indexing the bundled corpus")
        Pipeline(settings.model_copy(update={"data_dir": scratch})).index([BUNDLED])
        env = _environment(settings, scratch)
        runs: list[dict[str, Any]] = []
        start = time.perf_counter()
        while len(runs) < max(1, repeats):
            log(f"startup: run {len(runs) + 1} of {repeats} (fresh processes)")
            serve = _serve(env, question)
            runs.append(
                {
                    "help": _timed(_qa("--help"), env),
                    "ask": _timed(_qa("ask", question), env),
                    "serve_healthz": serve["healthz"],
                    "serve_first_answer": serve["first_answer"],
                    "probes": {c: _probe(c, env, question) for c in ("ask", "serve")},
                    "load_1m": round(os.getloadavg()[0], 2),
                }
            )
            if time.perf_counter() - start > budget_s:
                break
        log("startup: qa ask under -X importtime")
        shares = import_shares(_importtime(env, question))
        _report(section, runs, settings, question)
        total = sum(seconds for _, seconds in shares)
        table = section.table(
            "Where `qa ask` spends its import time (`python -X importtime`, one more run; "
            "each module's own time, by top-level package)",
            ["package", "seconds", "share"],
        )
        for package, seconds in shares:
            table.add(package, f"{seconds:.2f}", f"{seconds / total:.0%}")
        section.data["import_shares"] = dict(shares)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return section


def _report(
    section: Section, runs: list[dict[str, Any]], settings: Settings, question: str
) -> None:
    ends = section.table(
        "End to end, each run in a fresh process (seconds)",
        ["measure", "seconds", "runs"],
    )
    rows = (
        ("`qa --help`", "help"),
        ("`qa ask` from a shell, until it exits (answer printed)", "ask"),
        ("`qa serve`, until /healthz answers 200", "serve_healthz"),
        ("`qa serve`, until the first POST /api/ask answer", "serve_first_answer"),
    )
    for label, key in rows:
        figure = spread([r[key] for r in runs])
        ends.add(label, figure.format(2), figure.n)
    columns = [
        "python start",
        "cli",
        "import",
        "model",
        "index",
        "web app",
        "first answer",
        "python exit",
        "total",
    ]
    table = section.table(
        "Breakdown: the command's steps in a fresh interpreter (seconds; import: every module "
        "imported by any step; the other columns without their imports)",
        ["command", *columns, "modules imported", "runs"],
    )
    for command in ("ask", "serve"):
        parts = [breakdown(r["probes"][command]) for r in runs]
        cells = [spread([p[c] for p in parts]).format(2) for c in columns]
        modules = runs[-1]["probes"][command]["modules"]
        table.add(f"qa {command}", *cells, modules, len(parts))
    ask = spread([r["ask"] for r in runs])
    loads = [r["load_1m"] for r in runs]
    section.targets.append(
        Target(
            f"`qa ask` end to end from a shell ≤ {TARGET_ASK_S:.0f} s on a quiet machine",
            f"{ask.median:.1f} s (load average {min(loads):.1f}–{max(loads):.1f} on "
            f"{os.cpu_count()} cores)",
            ask.median <= TARGET_ASK_S,
        )
    )
    section.notes += [
        f"Question: «{question}»; model {settings.model}, embedding backend "
        f"{settings.embed_backend}, answerer {settings.answerer}, reader backend "
        f"{settings.reader_backend}; bundled corpus.",
        "cli: click, the settings and the pipeline object; model: the embedding "
        "model and the answerer (the reader's network) loaded; web app: `create_app`; python "
        "start: from starting the process to the probe's first line; python exit: from its "
        "result to the process's end (the interpreter tearing down what was loaded).",
        *(
            f"`qa {c}` imported torch: {p['torch']}, transformers: {p['transformers']}, "
            f"sentence-transformers: {p['sentence_transformers']}."
            for c, p in runs[-1]["probes"].items()
        ),
        f"Load average (1 min) after each run: {', '.join(f'{v:.1f}' for v in loads)}.",
    ]
    section.data["runs"] = runs
