"""A click group whose heavy subcommands are imported only when they are run."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """``lazy_commands`` maps a command name to ``"module:attribute"``; ``qa --help`` lists the
    names without importing them (their one-line help is read then)."""

    def __init__(
        self, *args: object, lazy_commands: dict[str, str] | None = None, **kwargs: object
    ):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list the lazy ones by name only: importing eval or bench to read their help would
        # cost the time the lazy loading saves
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy_commands:
                rows.append((name, _LAZY_HELP.get(name, "")))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def _load(self, name: str) -> click.Command:
        module_name, attribute = self.lazy_commands[name].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[name]} is not a click command")
        return command


_LAZY_HELP = {
    "eval": "Đánh giá truy xuất, câu trả lời và trích dẫn trên một bộ câu hỏi.",
    "bench": "Đo tốc độ, bộ nhớ và chất lượng (nạp dữ liệu, mô hình nhúng, truy vấn, máy chủ).",
    "llm": "Mô hình ngôn ngữ chạy trên máy (HOIDAP_ANSWERER=llm).",
    "reader": "Bộ đọc đã huấn luyện (HOIDAP_ANSWERER=reader): huấn luyện lại, kiểm định.",
    "user": "Tài khoản người dùng (HOIDAP_AUTH=accounts): thêm, liệt kê, xoá, tạo API token.",
}
