"""The app's OpenAPI document: FastAPI's, with the limits the settings decide filled in."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from qa.core.settings import Settings
from web.schemas import MAX_LENGTH_SETTING


def document_settings(app: FastAPI, settings: Settings) -> None:
    """``app.openapi()`` gives ``maxLength`` where a schema names the setting that limits it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _fill(build(), settings)  # FastAPI keeps the document it built, filled in here
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _fill(node: object, settings: Settings) -> None:
    if isinstance(node, dict):
        if MAX_LENGTH_SETTING in node:
            node["maxLength"] = getattr(settings, node.pop(MAX_LENGTH_SETTING))
        for value in node.values():
            _fill(value, settings)
    elif isinstance(node, list):
        for value in node:
            _fill(value, settings)
