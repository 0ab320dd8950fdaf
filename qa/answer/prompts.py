"""Prompts are Jinja2 templates in ``prompts/``, rendered in a sandbox.

Every variable a template uses must be given: a missing one fails at once with the names of all
the missing ones (haystack's PromptBuilder habit), rather than rendering an empty gap into the
prompt. The sandbox keeps an edited template from reaching Python internals.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class Prompts:
    """The templates of one folder; compiled templates are cached by the environment."""

    def __init__(self, directory: Path = PROMPTS_DIR) -> None:
        self.directory = directory
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._required: dict[str, frozenset[str]] = {}

    def required(self, name: str) -> frozenset[str]:
        """The variables template ``name`` uses."""
        if name not in self._required:
            source, _, _ = self._env.loader.get_source(self._env, name)  # type: ignore[union-attr]
            self._required[name] = frozenset(
                meta.find_undeclared_variables(self._env.parse(source))
            )
        return self._required[name]

    def render(self, name: str, **variables: object) -> str:
        missing = sorted(self.required(name) - variables.keys())
        if missing:
            raise ValueError(
                f"Mẫu prompt {name} ({self.directory}) thiếu biến: {', '.join(missing)}"
            )
        return self._env.get_template(name).render(**variables).strip()


@cache
def default_prompts() -> Prompts:
    return Prompts()


def render(name: str, **variables: object) -> str:
    """Render a template of the bundled ``prompts/`` folder."""
    return default_prompts().render(name, **variables)
