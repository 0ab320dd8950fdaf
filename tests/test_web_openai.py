"""The OpenAI-compatible API: model list, unknown models, absolute citation links and token
usage, through FastAPI's TestClient and through the official ``openai`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from qa import components
from qa.core.settings import DEFAULT_MODEL, Settings
from qa.core.types import Answer, Turn
from qa.pipeline import Pipeline
from qa.text.token_count import RegexTokenCounter
from tests.conftest import make_settings
from tests.test_web_api import FOLLOW_UP, QUESTION, sse_events
from web.app import create_app

WORDS = RegexTokenCounter()


def client_for(pipeline: Pipeline, **settings: Any) -> TestClient:
    if settings:
        pipeline.settings = pipeline.settings.model_copy(update=settings)
    return TestClient(create_app(pipeline.settings, pipeline))


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with client_for(pipeline) as client:
        yield client


@pytest.fixture
def official(client: TestClient) -> openai.OpenAI:
    """The official client, sending its requests to the app (TestClient is an httpx.Client)."""
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key="hoidap-test-client", http_client=client
    )


def ask(client: TestClient, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": QUESTION}])
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def chunks(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    body.setdefault("messages", [{"role": "user", "content": QUESTION}])
    response = client.post("/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == 200, response.text
    *events, (_, done) = sse_events(response.text)
    assert done == "[DONE]"
    return [json.loads(data) for _, data in events]


# ----- models -----


def test_models_are_the_answerers_the_server_runs(client: TestClient) -> None:
    listed = client.get("/v1/models").json()
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["hoidap", "hoidap-extractive", "hoidap-reader"]
    assert {m["object"] for m in listed["data"]} == {"model"}


@pytest.mark.parametrize(
    ("answerer", "models"),
    [
        ("reader", ["hoidap", "hoidap-reader", "hoidap-extractive"]),
        ("openai", ["hoidap", "hoidap-openai", "hoidap-extractive", "hoidap-reader"]),
    ],
)
def test_a_language_model_is_listed_only_when_configured(
    pipeline: Pipeline, answerer: str, models: list[str]
) -> None:
    with client_for(pipeline, answerer=answerer) as client:
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == models


def test_a_named_answerer_answers(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_reader() -> None:
        raise AssertionError("hoidap-extractive must not load the configured reader")

    monkeypatch.setattr(pipeline, "_span_reader", no_reader)
    with client_for(pipeline, answerer="reader") as client:
        body = ask(client, model="hoidap-extractive")
    assert body["model"] == "hoidap-extractive"
    assert "94,88%" in body["choices"][0]["message"]["content"]


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_is_404_in_openais_format(
    client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unknown model must be refused before answering")

    monkeypatch.setattr(pipeline, "ask", never)
    monkeypatch.setattr(pipeline, "ask_stream", never)
    messages = [{"role": "user", "content": QUESTION}]
    response = client.post(
        "/v1/chat/completions", json={"model": "gpt-4o", "messages": messages, "stream": stream}
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {
            "message": "Không có mô hình 'gpt-4o'. Các mô hình hoidap phục vụ: "
            "hoidap, hoidap-extractive, hoidap-reader.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_the_docs_list_the_models_and_the_404(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/chat/completions"]["post"]
    assert "model_not_found" in post["responses"]["404"]["description"]
    assert "hoidap-extractive" in spec["paths"]["/v1/models"]["get"]["description"]
    assert "include_usage" in client.get("/docs").text


# ----- citation links -----


def test_citation_links_are_absolute_and_open_the_quote(client: TestClient) -> None:
    body = ask(client)
    citation = body["citations"][0]
    assert citation["url"].startswith("http://testserver/articles/")
    assert f"“{citation['quote']}” {citation['url']}" in body["choices"][0]["message"]["content"]
    page = client.get(citation["url"])
    assert page.status_code == 200 and "94,88%" in page.text


def test_citation_links_keep_the_root_path(pipeline: Pipeline) -> None:
    client = TestClient(create_app(pipeline.settings, pipeline), root_path="/qa")
    assert ask(client)["citations"][0]["url"].startswith("http://testserver/qa/articles/")


def test_citation_links_use_the_public_url(pipeline: Pipeline) -> None:
    with client_for(pipeline, public_url="https://hoidap.example/qa") as client:
        url = ask(client)["citations"][0]["url"]
        streamed = chunks(client)[-1]["citations"][0]["url"]
    assert url.startswith("https://hoidap.example/qa/articles/") and streamed == url


@pytest.mark.parametrize("value", ["hoidap.example", "ftp://hoidap.example", "https://"])
def test_public_url_must_be_an_http_url(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="public_url"):
        make_settings(tmp_path, public_url=value)


def test_public_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    assert make_settings(tmp_path, public_url="https://x.example/qa/").public_url == (
        "https://x.example/qa"
    )


# ----- usage -----


def test_regex_count_is_words_and_punctuation() -> None:
    assert WORDS.count("Tỷ lệ người DTTS chiếm 94,88%.") == 10  # 94 , 88 % .
    assert WORDS.count("  ") == 0


def test_usage_counts_what_the_server_reads_and_sends(client: TestClient) -> None:
    earlier = "Ở Trùng Khánh [1]"
    messages = [
        {"role": "system", "content": "Bạn là trợ lý, trả lời thật dài."},  # not read
        {"role": "user", "content": "Hội nghị diễn ra ở đâu?"},
        {"role": "assistant", "content": earlier + "\n\nNguồn:\n[1] Hội nghị…"},
        {"role": "user", "content": QUESTION},
    ]
    body = ask(client, messages=messages)
    read = WORDS.count("Hội nghị diễn ra ở đâu?") + WORDS.count(earlier) + WORDS.count(QUESTION)
    sent = WORDS.count(body["choices"][0]["message"]["content"])
    assert body["usage"] == {
        "prompt_tokens": read,
        "completion_tokens": sent,
        "total_tokens": read + sent,
    }
    assert sent > 20


def test_streamed_usage_comes_last_when_asked(client: TestClient) -> None:
    whole = ask(client)
    *answer, last = chunks(client, stream_options={"include_usage": True})
    assert last["choices"] == [] and last["usage"] == whole["usage"]
    assert all(chunk["usage"] is None for chunk in answer)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in answer)
    assert text == whole["choices"][0]["message"]["content"]
    assert all("usage" not in chunk for chunk in chunks(client))


def test_the_pipeline_counts_with_the_hash_embedders_fallback(pipeline: Pipeline) -> None:
    # the settings name the default model, but the pipeline runs the injected hash embedder
    assert pipeline.settings.model == DEFAULT_MODEL
    assert isinstance(pipeline.token_counter, RegexTokenCounter)


@pytest.mark.model
def test_a_real_model_counts_with_its_tokenizer(e5_model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model_cache_dir=e5_model_dir.parent)
    counter = components.token_counter(settings, DEFAULT_MODEL)
    assert counter.name == DEFAULT_MODEL
    # ▁T ỷ ▁lệ ▁người ▁ DT TS ▁chiếm ▁9 4,8 8%: no <s> or </s>
    assert counter.count("Tỷ lệ người DTTS chiếm 94,88%") == 11
    assert counter.count(" ".join(["một"] * 2000)) == 2000  # no truncation at the model's 512


# ----- the official client -----


def test_official_client_plain(official: openai.OpenAI) -> None:
    reply = official.chat.completions.create(
        model="hoidap", messages=[{"role": "user", "content": QUESTION}]
    )
    assert "94,88%" in (reply.choices[0].message.content or "")
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    citations = (reply.model_extra or {})["citations"]
    assert citations[0]["url"].startswith("http://testserver/articles/")


def test_official_client_stream_with_usage(official: openai.OpenAI) -> None:
    stream = official.chat.completions.create(
        model="hoidap",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    received = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert "94,88%" in text
    assert received[-1].choices == [] and received[-1].usage is not None
    assert received[-1].usage.completion_tokens == WORDS.count(text)


def test_official_client_follow_up(
    official: openai.OpenAI, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = official.chat.completions.create(
        model="hoidap", messages=[{"role": "user", "content": QUESTION}]
    )
    answer = first.choices[0].message.content or ""
    histories: list[list[Turn]] = []
    ask = pipeline.ask

    def recording_ask(question: str, history: Sequence[Turn], **options: Any) -> Answer:
        histories.append(list(history))
        return ask(question, history, **options)

    monkeypatch.setattr(pipeline, "ask", recording_ask)
    follow_up = official.chat.completions.create(
        model="hoidap-extractive",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    answer_text = answer.split("\n\nNguồn:\n")[0]
    assert histories == [[Turn(QUESTION, answer_text)]]  # read without its sources list
    assert follow_up.choices[0].message.content
    assert follow_up.usage is not None
    read = WORDS.count(QUESTION) + WORDS.count(answer_text)
    assert follow_up.usage.prompt_tokens == read + WORDS.count(FOLLOW_UP)


def test_official_client_lists_models(official: openai.OpenAI) -> None:
    ids = [model.id for model in official.models.list()]
    assert ids == ["hoidap", "hoidap-extractive", "hoidap-reader"]


def test_official_client_unknown_model(official: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        official.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assert "hoidap-extractive" in info.value.message
