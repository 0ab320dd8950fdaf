"""The `qa` command: output for good input, one clear line and a non-zero exit for bad input."""

import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.pipeline import Pipeline
from tests.conftest import CORPUS


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["--data-dir", str(data_dir), "--model", "hash:64", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def indexed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, tmp_path, "index", str(CORPUS))
    assert code == 0 and "5 bài mới" in out
    return tmp_path


def test_search_prints_ranked_passages(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, indexed, "search", "Tỷ lệ người DTTS ở Cao Bằng", "-k", "3")
    assert code == 0
    assert out.startswith("#1 ")
    assert "#3 " in out and "#4 " not in out


def test_search_json_has_spans_into_the_article(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, indexed, "search", "94,88%", "--json", "-k", "2")
    assert code == 0
    hits = json.loads(out)["passages"]
    assert [h["rank"] for h in hits] == [1, 2]
    text = (CORPUS / f"{hits[0]['article_id']}.txt").read_text("utf-8")
    assert hits[0]["text"] in text
    assert {"bm25", "dense"} == set(hits[0]["scores"])


def test_ask_json_cites_exact_characters(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, indexed, "ask", "Cao Bằng có bao nhiêu huyện biên giới?", "--json")
    assert code == 0
    answer = json.loads(out)
    assert not answer["refused"]
    assert answer["citations"] and "[1]" in answer["text"]
    assert all(c["end"] - c["start"] == len(c["quote"]) for c in answer["citations"])


def test_cli_json_has_the_shape_of_the_api(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.schemas import AnswerOut, AskResponse, SearchResponse

    _, out, _ = run(capsys, indexed, "ask", "Cao Bằng có bao nhiêu huyện biên giới?", "--json")
    assert set(json.loads(out)) == set(AnswerOut.model_fields)
    assert set(AnswerOut.model_fields) < set(AskResponse.model_fields)
    _, out, _ = run(capsys, indexed, "search", "Cao Bằng", "--json")
    assert set(json.loads(out)) == set(SearchResponse.model_fields)


def test_ask_prints_sources(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, indexed, "ask", "Cao Bằng có bao nhiêu huyện biên giới?")
    assert code == 0 and "Nguồn:" in out and "[1]" in out


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "trống"), ("   \n\t", "trống"), ("x" * 100_000, "quá dài")],
)
def test_bad_questions_get_a_message(indexed: Path, capsys, question: str, message: str) -> None:
    for command in ("search", "ask"):
        code, out, err = run(capsys, indexed, command, question)
        assert code == 1 and message in err and "Traceback" not in err + out


def test_missing_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, tmp_path, "search", "Cao Bằng")
    assert code == 1 and "qa index" in err


def test_corrupt_index(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (indexed / "index" / "manifest.json").write_text("{")
    code, _, err = run(capsys, indexed, "search", "Cao Bằng")
    assert code == 1 and "qa index" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", "Tiêu đề\nnội dung".encode("cp1258", errors="replace"), "UTF-8"),
        ("empty.txt", b"", "tệp rỗng"),
        ("broken.jsonl", b'{"id": "a", "text": "x"}\n{not json\n', "broken.jsonl:2"),
    ],
)
def test_bad_files_are_named_and_leave_the_index(
    indexed, tmp_path, capsys, name, content, message
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(content)
    before = (indexed / "index").resolve()
    code, _, err = run(capsys, indexed, "index", str(folder))
    assert code == 1 and message in err and "Traceback" not in err
    assert (indexed / "index").resolve() == before


def test_folder_without_articles_and_missing_path(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, tmp_path, "index", str(empty))
    assert code == 1 and "Không có bài viết" in err
    code, _, err = run(capsys, tmp_path, "index", str(tmp_path / "nope"))
    assert code == 1 and "không tìm thấy" in err


def test_bad_setting_is_a_message(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HOIDAP_CHUNK_SIZE", "5")
    code, _, err = run(capsys, tmp_path, "search", "x")
    assert code == 2 and "chunk_size" in err


def test_chat_keeps_context_between_turns(indexed: Path, capsys, monkeypatch) -> None:
    lines = iter(["Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?", "Còn ở Bắc Kạn thì sao?"])

    def fake_input(_prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    asked: list[tuple[str, list[str]]] = []
    real_ask = Pipeline.ask

    def spy(self: Pipeline, question: str, history=()):  # type: ignore[no-untyped-def]
        asked.append((question, [t.question for t in history]))
        return real_ask(self, question, history)

    monkeypatch.setattr(Pipeline, "ask", spy)
    code, out, _ = run(capsys, indexed, "chat")
    assert code == 0 and "94,88%" in out
    assert asked[1] == ("Còn ở Bắc Kạn thì sao?", ["Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"])


def test_help_lists_the_lazy_commands_without_importing_them() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from qa.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('eval', 'bench', 'faiss', 'scipy', 'torch', 'jinja2', 'qa.pipeline')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "eval" in run.stdout and "bench" in run.stdout and "llm" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_ask_imports_only_what_answering_uses(indexed: Path) -> None:
    """`qa ask` with the hash embedder and the keyword answerer loads no model library, no web
    framework, and neither scipy (only building BM25 uses it) nor scikit-learn (pyvi's
    pickled tagger does not need it)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from qa.cli import main\n"
        "main(sys.argv[1:])\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'sklearn', 'scipy', 'pandas',"
        " 'fastapi', 'uvicorn', 'pymilvus', 'eval', 'bench', 'web.app', 'qa.answer.reader.network')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    args = ["--data-dir", str(indexed), "--model", "hash:64", "ask", "94,88% là tỷ lệ gì?"]
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HOIDAP_ANSWERER": "extractive"},  # no other HOIDAP_* (conftest)
    )
    assert "Nguồn:" in run.stdout
    assert run.stderr.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--data-dir", "ask", "--model", "hash:64", "search", "q"], "search"),
        (["--model=hash:64", "ask", "q", "--json"], "ask"),
        (["--help"], None),
        (["index", "ask"], "index"),
    ],
)
def test_the_command_name_skips_the_groups_options(args: list[str], name: str | None) -> None:
    from qa.cli import _command_name

    assert _command_name(args) == name


@pytest.mark.parametrize("command", ["ask", "search"])
def test_the_executable_ends_with_its_output_and_status(indexed: Path, command: str) -> None:
    """`qa ask` and `qa search` end the process at once (qa.cli.run): the JSON is whole through
    a pipe, and an error still says why and exits non-zero."""
    import os
    import subprocess
    import sys

    def qa(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "qa.cli", "--data-dir", str(indexed), "--model", "hash:64"]
        env = {**os.environ, "HOIDAP_ANSWERER": "extractive"}  # no other HOIDAP_* (conftest)
        return subprocess.run([*argv, *args], capture_output=True, text=True, env=env)

    done = qa(command, "Cao Bằng có bao nhiêu huyện biên giới?", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)
    empty = qa(command, " ")
    assert empty.returncode == 1 and "trống" in empty.stderr


def test_lazy_help_lines_match_the_commands() -> None:
    from qa.cli import cli
    from qa.cli.lazy import _LAZY_HELP

    for name in cli.lazy_commands:  # type: ignore[attr-defined]
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.help is not None
        assert command.help.strip().splitlines()[0] == _LAZY_HELP[name]


def test_k_out_of_range_is_refused_like_the_api(indexed: Path, capsys) -> None:
    for k in ("0", "-1", "101"):
        code, out, err = run(capsys, indexed, "search", "Cao Bằng", "-k", k)
        assert code == 2 and "1<=x<=100" in err and out == ""
    code, out, _ = run(capsys, indexed, "search", "Cao Bằng", "-k", "2", "--json")
    assert code == 0 and len(json.loads(out)["passages"]) == 2


def test_the_library_refuses_k_zero_too(indexed: Path) -> None:
    from embeddings.hashing import HashEmbedder
    from qa.core.errors import InputError
    from tests.conftest import make_settings

    pipeline = Pipeline(make_settings(indexed), embedder=HashEmbedder())
    with pytest.raises(InputError, match="từ 1 đến 100"):
        pipeline.search("Cao Bằng", 0)


# bytes that are not UTF-8 reach Python's argv as surrogate escapes
NOT_UTF8 = b"Cao B\xe1ng".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "args",
    [
        ("search", NOT_UTF8),
        ("ask", NOT_UTF8),
        ("ask", "a\ud800"),
        ("--model", NOT_UTF8, "ask", "x"),
    ],
)
def test_arguments_that_are_not_utf8_get_a_message(indexed: Path, capsys, args) -> None:
    code, _, err = run(capsys, indexed, *args)
    assert code == 2 and "UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize("failure", ["surrogates", "decode"])
def test_chat_input_that_is_not_utf8_gets_a_message(
    indexed: Path, capsys, monkeypatch, failure: str
) -> None:
    def bad_input(_prompt: str) -> str:
        if failure == "decode":  # a strict UTF-8 stdin
            raise UnicodeDecodeError("utf-8", b"\xe1", 0, 1, "invalid continuation byte")
        return NOT_UTF8  # a stdin decoded with surrogateescape (C locale)

    monkeypatch.setattr("builtins.input", bad_input)
    code, _, err = run(capsys, indexed, "chat")
    assert code == 2 and "UTF-8" in err


@pytest.mark.parametrize("command", [("search", "Cao Bằng"), ("serve",)])
def test_a_truncated_keyword_index_is_a_message(indexed: Path, capsys, monkeypatch, command):
    monkeypatch.setattr("uvicorn.Server.run", lambda *a, **k: pytest.fail("served a broken index"))
    part = indexed / "index" / "bm25_accented_norm.npy"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    code, _, err = run(capsys, indexed, *command)
    assert code == 1 and "qa index" in err and "Traceback" not in err


def test_serve_answers_to_the_host_it_is_bound_to(indexed: Path, capsys, monkeypatch) -> None:
    served: dict[str, object] = {}

    def fake_run(server) -> None:  # type: ignore[no-untyped-def]
        config = server.config
        served.update(
            hosts=config.app.state.settings.served_hosts(), host=config.host, port=config.port
        )

    monkeypatch.setattr("uvicorn.Server.run", fake_run)
    code, _, err = run(capsys, indexed, "serve", "--host", "hoidap.lan", "--port", "9001")
    assert code == 0 and served["host"] == "hoidap.lan" and served["port"] == 9001
    assert "hoidap.lan" in served["hosts"]  # type: ignore[operator]
    code, _, err = run(capsys, indexed, "serve", "--host", "0.0.0.0")
    assert code == 0 and "HOIDAP_ALLOWED_HOSTS" in err
