"""Accounts (HOIDAP_AUTH=accounts): `qa user`, sign-in, roles and API tokens."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.cli import main
from qa.core.errors import AuthenticationError, InputError, NotFoundError
from qa.pipeline import Pipeline
from tests.conftest import make_settings
from web.accounts import Accounts
from web.app import create_app

PASSWORD = "mật-khẩu-dài"
QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    accounts = Accounts(tmp_path / "hoidap.sqlite3")
    yield accounts
    accounts.close()


def test_passwords_are_argon2_hashes_and_verify(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add("lan", PASSWORD, "admin")
    assert accounts.verify("lan", PASSWORD).role == "admin"
    with sqlite3.connect(tmp_path / "hoidap.sqlite3") as db:
        [(stored,)] = db.execute("SELECT password_hash FROM users").fetchall()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_and_unknown_name_say_the_same(accounts: Accounts) -> None:
    accounts.add("lan", PASSWORD)
    with pytest.raises(AuthenticationError) as wrong:
        accounts.verify("lan", "not-the-password")
    with pytest.raises(AuthenticationError) as unknown:
        accounts.verify("nobody", PASSWORD)
    assert str(wrong.value) == str(unknown.value)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("lan", "short", "ít nhất 8"),
        ("bad name", PASSWORD, "không hợp lệ"),
        ("", PASSWORD, "không hợp lệ"),
        ("Người", PASSWORD, "không hợp lệ"),
    ],
)
def test_bad_names_and_passwords_are_refused(
    accounts: Accounts, name: str, password: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        accounts.add(name, password)


def test_tokens_are_stored_hashed_and_go_with_their_user(
    accounts: Accounts, tmp_path: Path
) -> None:
    accounts.add("lan", PASSWORD)
    token = accounts.new_token("lan")
    assert token.startswith("hd_") and len(token) > 40
    user = accounts.user_for_token(token)
    assert user is not None and user.name == "lan"
    with sqlite3.connect(tmp_path / "hoidap.sqlite3") as db:
        assert token not in str(db.execute("SELECT * FROM api_tokens").fetchall())
    assert accounts.user_for_token(token + "x") is None
    accounts.remove("lan")
    assert accounts.user_for_token(token) is None
    with pytest.raises(NotFoundError):
        accounts.new_token("lan")
    with pytest.raises(NotFoundError):
        accounts.remove("lan")


# ----- the command -----


def qa(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = 0
    try:
        main(["--data-dir", str(data_dir), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_user_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = qa(capsys, monkeypatch, tmp_path, "user", "list")
    assert code == 0 and "Chưa có người dùng" in out
    code, out, _ = qa(
        capsys, monkeypatch, tmp_path, "user", "add", "lan", "--admin", stdin=PASSWORD + "\n"
    )
    assert (code, out) == (0, "Đã thêm người dùng lan (admin).\n")
    qa(capsys, monkeypatch, tmp_path, "user", "add", "minh", stdin=PASSWORD + "\n")
    code, out, _ = qa(capsys, monkeypatch, tmp_path, "user", "token", "minh")
    token = out.strip()
    assert code == 0 and token.startswith("hd_")
    code, out, _ = qa(capsys, monkeypatch, tmp_path, "user", "list")
    assert out == "lan\tadmin\t0 token\nminh\treader\t1 token\n"
    code, out, _ = qa(capsys, monkeypatch, tmp_path, "user", "remove", "minh")
    assert code == 0 and "Đã xoá" in out
    accounts = Accounts(tmp_path / "hoidap.sqlite3")
    assert [u.name for u in accounts.users()] == ["lan"]
    assert accounts.verify("lan", PASSWORD).role == "admin"
    accounts.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "lan"), "", "Không có mật khẩu"),
        (("user", "add", "lan"), "short\n", "ít nhất 8"),
        (("user", "add", "a b"), PASSWORD + "\n", "không hợp lệ"),
        (("user", "remove", "nobody"), "", "Không có người dùng 'nobody'"),
        (("user", "token", "nobody"), "", "Không có người dùng 'nobody'"),
    ],
)
def test_user_command_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    code, _, err = qa(capsys, monkeypatch, tmp_path, *args, stdin=stdin)
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_adding_a_user_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    qa(capsys, monkeypatch, tmp_path, "user", "add", "lan", stdin=PASSWORD + "\n")
    code, _, err = qa(capsys, monkeypatch, tmp_path, "user", "add", "lan", stdin=PASSWORD + "\n")
    assert code == 1 and "Đã có người dùng 'lan'" in err


# ----- the server with accounts -----


@pytest.fixture
def app(pipeline: Pipeline) -> FastAPI:
    settings = make_settings(pipeline.settings.data_dir, auth="accounts")
    made = Accounts(settings.db_path)
    made.add("lan", PASSWORD, "admin")
    made.add("minh", PASSWORD)
    made.close()
    return create_app(settings, pipeline)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next: str = "/") -> None:
    response = client.post(
        "/login", data={"name": name, "password": password, "next": next}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next


def test_pages_send_strangers_to_sign_in_and_the_api_says_401(app: FastAPI) -> None:
    with TestClient(app) as stranger:
        page = stranger.get("/c/abc?x=1", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fc%2Fabc%3Fx%3D1"
        for response in (
            stranger.post("/api/ask", json={"question": QUESTION}),
            stranger.get("/api/conversations"),
            stranger.get("/api/articles"),
            stranger.post("/v1/chat/completions", json={"messages": []}),
        ):
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"] == "Bearer"
        bad = stranger.get("/api/conversations", headers={"Authorization": "Bearer hd_wrong"})
        assert bad.status_code == 401 and "token" in bad.json()["error"]["message"]
        assert stranger.get("/healthz").status_code == 200
        assert "Đăng nhập" in stranger.get("/login").text


def test_a_wrong_password_stays_on_the_sign_in_page(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = client.post("/login", data={"name": "lan", "password": "wrong-password"})
        assert response.status_code == 401
        assert "Sai tên đăng nhập hoặc mật khẩu." in response.text
        assert client.get("/api/conversations").status_code == 401


def test_signed_in_users_see_only_their_own(app: FastAPI) -> None:
    with TestClient(app) as lan, TestClient(app) as minh:
        sign_in(lan, "lan")
        sign_in(minh, "minh")
        made = lan.post("/api/ask", json={"question": QUESTION}).json()
        assert [c["id"] for c in lan.get("/api/conversations").json()] == [made["conversation_id"]]
        assert minh.get("/api/conversations").json() == []
        assert minh.get(f"/c/{made['conversation_id']}").status_code == 404
        page = lan.get("/").text
        assert "lan" in page and "Đăng xuất" in page
        lan.post("/logout")
        assert lan.get("/", follow_redirects=False).status_code == 303


def test_an_api_token_acts_as_its_user(app: FastAPI, pipeline: Pipeline) -> None:
    made = Accounts(pipeline.settings.db_path)
    token = made.new_token("minh")
    made.close()
    with TestClient(app) as api, TestClient(app) as browser:
        bearer = {"Authorization": f"Bearer {token}"}
        asked = api.post("/api/ask", json={"question": QUESTION}, headers=bearer)
        assert asked.status_code == 200
        api.cookies.clear()
        listed = api.get("/api/conversations", headers=bearer).json()
        assert [c["id"] for c in listed] == [asked.json()["conversation_id"]]
        sign_in(browser, "minh")  # the same user in a browser sees the same history
        assert browser.get("/api/conversations").json() == listed


def test_only_admins_manage_articles(app: FastAPI) -> None:
    with TestClient(app) as lan, TestClient(app) as minh:
        sign_in(lan, "lan", next="/admin/articles")
        sign_in(minh, "minh")
        assert lan.get("/admin/articles").status_code == 200
        assert "Quản lý bài viết" in lan.get("/").text
        assert minh.get("/admin/articles").status_code == 403
        assert minh.get("/api/admin/uploads").status_code == 403
        assert minh.post("/api/admin/reindex").status_code == 403
        assert "Quản lý bài viết" not in minh.get("/").text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_sign_in_never_redirects_off_the_site(app: FastAPI, target: str) -> None:
    with TestClient(app) as client:
        response = client.post(
            "/login",
            data={"name": "lan", "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
    assert response.headers["location"] == "/"


def test_without_accounts_sign_in_is_not_needed(pipeline: Pipeline) -> None:
    with TestClient(create_app(pipeline.settings, pipeline)) as client:
        assert client.get("/login", follow_redirects=False).headers["location"] == "/"
        assert client.get("/").status_code == 200
