"""`qa user`: accounts for a shared server (HOIDAP_AUTH=accounts)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from qa.core.errors import InputError
from web.accounts import Accounts, check_name


@contextmanager
def _accounts(ctx: click.Context) -> Iterator[Accounts]:
    accounts = Accounts(ctx.obj["settings"].db_path)
    try:
        yield accounts
    finally:
        accounts.close()


def _password() -> str:
    """Prompted twice on a terminal; otherwise the first line of stdin (for scripts)."""
    if sys.stdin.isatty():
        return click.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    line = sys.stdin.readline()
    if not line.strip():
        raise InputError("Không có mật khẩu: hãy gõ khi được hỏi, hoặc gửi một dòng qua stdin.")
    return line.rstrip("\r\n")


@click.group("user")
def user_command() -> None:
    """Tài khoản người dùng (HOIDAP_AUTH=accounts): thêm, liệt kê, xoá, tạo API token."""


@user_command.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Quản trị viên (quản lý bài viết).")
@click.pass_context
def add(ctx: click.Context, name: str, admin: bool) -> None:
    """Thêm người dùng; mật khẩu được hỏi (hoặc đọc một dòng từ stdin)."""
    check_name(name)  # before asking for a password
    with _accounts(ctx) as accounts:
        user = accounts.add(name, _password(), "admin" if admin else "reader")
    click.echo(f"Đã thêm người dùng {user.name} ({user.role}).")


@user_command.command("list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """Liệt kê người dùng, vai trò và số API token."""
    with _accounts(ctx) as accounts:
        users = accounts.users()
    if not users:
        click.echo("Chưa có người dùng nào. Thêm bằng `qa user add TÊN [--admin]`.")
    for user in users:
        click.echo(f"{user.name}\t{user.role}\t{user.tokens} token")


@user_command.command("remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Xoá người dùng và các API token của họ (các cuộc trò chuyện vẫn được giữ)."""
    with _accounts(ctx) as accounts:
        accounts.remove(name)
    click.echo(f"Đã xoá người dùng {name}.")


@user_command.command("token")
@click.argument("name")
@click.pass_context
def token(ctx: click.Context, name: str) -> None:
    """In một API token mới của người dùng (chỉ hiện một lần; gửi kèm `Authorization: Bearer`)."""
    with _accounts(ctx) as accounts:
        click.echo(accounts.new_token(name))
