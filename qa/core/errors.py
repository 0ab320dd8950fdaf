"""Errors raised by the library; the CLI and HTTP layers turn them into messages."""


class HoidapError(Exception):
    """Base class: every error a user can cause or fix derives from it."""


class InputError(HoidapError):
    """A question, file or argument the user gave cannot be used."""


class IndexMissingError(HoidapError):
    """No index has been built yet."""


class IndexCorruptError(HoidapError):
    """The index on disk is unreadable, incomplete or built for another model/format."""


class IndexUnavailableError(HoidapError):
    """The index lives in a service (Milvus) that cannot be reached or refuses hoidap."""


class ModelError(HoidapError):
    """An embedding or language model cannot be loaded or verified."""


class NotFoundError(HoidapError):
    """An article, conversation or other id does not exist."""


class UnknownModelError(NotFoundError):
    """A model name the OpenAI-compatible API does not serve."""


class BackendError(HoidapError):
    """An external service (an LLM endpoint) failed, timed out or answered garbage."""


class AuthenticationError(HoidapError):
    """Who is asking is unknown: not signed in, or a wrong password or API token."""


class PermissionDeniedError(HoidapError):
    """The caller is known but may not do this (an admin's task)."""


class BusyError(HoidapError):
    """Too many questions are waiting already; ``retry_after`` says in how many seconds to retry."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
