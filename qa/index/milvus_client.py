"""One connection to Milvus (an embedded milvus-lite file, or a server), and its errors in words.

Every call to Milvus goes through ``MilvusConnection.call``, so an unreachable server, a wrong
token or a file another process holds reaches the user as an ``IndexUnavailableError`` that
names the setting to fix. A failed connection is not kept: the next call tries again, so the
app recovers when the server is back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qa.core.errors import IndexUnavailableError

T = TypeVar("T")
_AUTH_WORDS = ("auth", "credential", "token", "password", "permission", "denied")


def is_lite(uri: str) -> bool:
    """A file path (milvus-lite runs in this process) rather than ``http(s)://host:port``."""
    return "://" not in uri


def _not_loaded(exc: Exception) -> bool:
    message = str(getattr(exc, "message", "") or exc).lower()
    return getattr(exc, "code", None) == 101 or "released" in message or "not loaded" in message


class MilvusConnection:
    def __init__(self, uri: str, token: str, timeout: float) -> None:
        self.uri = uri
        self._token = token
        self._timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def call(self, action: Callable[[Any], T], collection: str = "") -> T:
        """``action(client)``, with Milvus's failures turned into a message for the user; a
        ``collection`` found released (a restarted server) is loaded and ``action`` retried."""
        from pymilvus.exceptions import MilvusException

        try:
            client = self._connected()
            try:
                return action(client)
            except MilvusException as exc:
                if not (collection and _not_loaded(exc)):
                    raise
                client.load_collection(collection)
                return action(client)
        except MilvusException as exc:
            raise self._unavailable(exc) from exc
        except (OSError, RuntimeError) as exc:  # milvus-lite: a locked or unreadable file
            raise self._unavailable(exc) from exc

    def count(self, collection: str) -> int:
        """The rows ``collection`` holds."""
        stats = self.call(lambda c: c.query(collection, filter="", output_fields=["count(*)"]))
        return int(stats[0]["count(*)"])

    def _connected(self) -> Any:
        with self._lock:
            if self._client is None:
                from pymilvus import MilvusClient

                if is_lite(self.uri):
                    Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
                self._client = MilvusClient(self.uri, token=self._token, timeout=self._timeout)
            return self._client

    def _unavailable(self, exc: Exception) -> IndexUnavailableError:
        message = getattr(exc, "message", "") or str(exc)
        if any(word in message.lower() for word in _AUTH_WORDS) and not is_lite(self.uri):
            return IndexUnavailableError(
                f"Milvus ở {self.uri} từ chối kết nối: {message}. "
                "Hãy kiểm tra HOIDAP_MILVUS_TOKEN (dạng `user:password` hoặc API key)."
            )
        self.close()  # a fresh client on the next call
        if is_lite(self.uri):
            return IndexUnavailableError(
                f"Không mở được tệp Milvus Lite {self.uri}: {message}. Một tệp chỉ một tiến "
                "trình dùng được một lúc; hãy dừng tiến trình kia, hoặc đặt HOIDAP_MILVUS_URI "
                "là địa chỉ một máy chủ Milvus (http://host:19530)."
            )
        return IndexUnavailableError(
            f"Không kết nối được Milvus ở {self.uri}: {message}. Hãy kiểm tra máy chủ Milvus "
            "và HOIDAP_MILVUS_URI."
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                client.close()
