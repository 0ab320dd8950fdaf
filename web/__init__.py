"""The chat page and HTTP API: ``create_app(settings)`` in ``web.app``."""
