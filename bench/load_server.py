"""The chat server the load test talks to: ``python -m bench.load_server SETTINGS.json PORT``.

It indexes the configured articles if there is no index yet, loads the model, answers one
question to warm up, then serves ``web.app.create_app(settings, pipeline)`` on 127.0.0.1 only.
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
    from web.app import create_app

    settings = Settings(**json.loads(Path(settings_file).read_text("utf-8")))
    pipeline = Pipeline(settings)
    try:
        _ = pipeline.data
    except IndexMissingError:
        pipeline.index()
    pipeline.ask("Khởi động")
    uvicorn.run(
        create_app(settings, pipeline),
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
