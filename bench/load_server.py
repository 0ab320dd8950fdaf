"""The chat server the load test talks to: ``python -m bench.load_server SETTINGS.json PORT``.

It indexes the configured articles if there is no index yet, loads the model, answers one
question to warm up, then serves ``web.app.create_app(settings, pipeline)`` on 127.0.0.1 only,
as ``qa serve`` does (``web.server``: its timeouts, keep-alive and library threads).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(settings_file: str, port: str) -> None:
    import uvicorn

    from qa.core.errors import IndexMissingError
    from qa.core.settings import Settings
    from qa.pipeline import Pipeline
    from web import server
    from web.app import create_app

    settings = Settings(**json.loads(Path(settings_file).read_text("utf-8")))
    pipeline = Pipeline(settings)
    try:
        _ = pipeline.data
    except IndexMissingError:
        pipeline.index()
    pipeline.ask("Khởi động")
    server.limit_library_threads(settings.server_library_threads)
    app = create_app(settings, pipeline)
    config = server.config(
        app, settings, "127.0.0.1", int(port), log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main(*sys.argv[1:3])
