"""The HTTP API keeps to its OpenAPI document: the document lists the errors each route answers
and the limits the server enforces, and a bounded schemathesis run against the live server on
loopback (every check, in every phase; tests/schemathesis.toml lists the few exceptions, each
with its reason) finds no failure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.core.settings import MAX_K
from qa.pipeline import Pipeline
from tests.conftest import make_settings
from tests.test_serving import live
from web.app import create_app

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 3  # per operation and phase: a few hundred requests in all
SEED = 1  # the same cases on every run


def _schemathesis(url: str, work: Path) -> subprocess.CompletedProcess[str]:
    """Run in ``work``: schemathesis keeps its cache and reports in the folder it runs in."""
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--generation-database=none",
        "--request-timeout=10",
    ]
    return subprocess.run(
        command, cwd=work, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def document(tmp_path: Path) -> dict:
    return create_app(make_settings(tmp_path, max_question_chars=321)).openapi()


def _operations(document: dict) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_every_route_lists_the_errors_of_the_edges(document: dict) -> None:
    for name, operation in _operations(document).items():
        assert {"400", "413", "422"} <= set(operation["responses"]), name
        error = operation["responses"]["422"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorOut"}, name


@pytest.mark.parametrize(
    ("operation", "statuses"),
    [
        ("GET /api/conversations/{conversation_id}", {"404"}),
        ("PATCH /api/conversations/{conversation_id}", {"403", "404"}),
        ("DELETE /api/conversations/{conversation_id}", {"403", "404"}),
        ("GET /api/articles/{article_id}", {"404", "503"}),
        ("POST /api/ask", {"403", "404", "503"}),
        ("POST /api/ask/stream", {"403", "404", "503"}),
        ("POST /api/feedback", {"403", "404"}),
        ("GET /api/search", {"503"}),
        ("POST /v1/chat/completions", {"403", "404", "503"}),
        ("DELETE /api/admin/uploads/{name}", {"403", "404"}),
        ("GET /healthz", {"503"}),
    ],
)
def test_a_route_lists_the_errors_it_answers(
    document: dict, operation: str, statuses: set[str]
) -> None:
    assert statuses <= set(_operations(document)[operation]["responses"])


def test_the_document_says_the_limits_the_server_enforces(document: dict) -> None:
    question = document["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert (question["minLength"], question["maxLength"], question["pattern"]) == (1, 321, r"\S")
    search = {
        p["name"]: p["schema"] for p in _operations(document)["GET /api/search"]["parameters"]
    }
    assert (search["q"]["minLength"], search["q"]["maxLength"]) == (1, 321)
    k = search["k"]["anyOf"][0]
    assert (k["minimum"], k["maximum"]) == (1, MAX_K)
    title = document["components"]["schemas"]["RenameRequest"]["properties"]["title"]
    assert title["pattern"] == r"\S"
    for operation in ("GET /api/conversations/{conversation_id}", "GET /api/articles/{article_id}"):
        [path] = _operations(document)[operation]["parameters"]
        assert path["schema"]["minLength"] == 1
    assert "x-max-length-setting" not in str(document)


def test_a_question_is_measured_as_sent(pipeline: Pipeline) -> None:
    """NFC writes U+0344 as two characters: a question the schema lets through is not refused."""
    limit = pipeline.settings.max_question_chars
    assert len(pipeline.check_question("\u0344" * limit)) == 2 * limit


def test_a_405_allows_every_method_of_the_path(pipeline: Pipeline) -> None:
    with TestClient(create_app(pipeline.settings, pipeline)) as client:
        refused = client.request("OPTIONS", "/api/admin/reindex")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, POST"
        assert client.put("/api/conversations/x").headers["allow"] == "GET, PATCH, DELETE"


@pytest.mark.fuzz
def test_a_schemathesis_run_finds_no_failure(pipeline: Pipeline, tmp_path: Path) -> None:
    settings = pipeline.settings
    with live(create_app(settings, pipeline), settings) as url:
        run = _schemathesis(url, tmp_path)
    print(run.stdout)  # the checks and the number of cases, shown with `pytest -s`
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases is not None and cases[1] == cases[2] and int(cases[1]) > 0, run.stdout[-2000:]
