"""The Pipeline: the index lifecycle, and search and ask over the current index.

It composes the components ``qa.components`` makes from the settings; any of them can be
injected instead (tests, a second backend, a trained reader).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from qa import components
from qa.answer.followup import rewrite
from qa.core.errors import HoidapError, IndexMissingError, InputError, ModelError, NotFoundError
from qa.core.index_data import EmbeddedBuild, IndexData
from qa.core.protocols import (
    Answerer,
    Chunker,
    Embedder,
    IndexBackend,
    Retriever,
    TokenCounter,
)
from qa.core.settings import MAX_K, Settings
from qa.core.types import Answer, Article, Hit, Turn
from qa.index import build_locks, store
from qa.index.build import IndexReport, Progress, build, name_phrases
from qa.ingest.loading import load_articles
from qa.text.vietnamese import nfc

# how often to resolve the index link again when the build it named was removed meanwhile
_RESOLVE_TRIES = 3


class Pipeline:
    """One object the CLI, the web app and the eval harness share.

    The embedder is created on first use (loading a model takes seconds), and the index is
    loaded on first use and reloaded when a new build is swapped in.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        chunker: Chunker | None = None,
        backend: IndexBackend | None = None,
        retriever: Retriever | None = None,
        answerer: Answerer | None = None,
        token_counter: TokenCounter | None = None,
        embedder_factory: Callable[[Settings], Embedder] = components.embedder,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_factory = embedder_factory
        self.chunker = chunker or components.chunker(settings)
        self.backend = backend or components.index_backend(settings)
        # injected ones are used as they are; otherwise they are made over the current index
        self._retriever = retriever
        self._answerer = answerer
        self._reader: components.LoadedReader | ModelError | None = None
        self._data: IndexData | None = None
        self._loaded_from: Path | None = None
        self._lease: build_locks.BuildLock | None = None  # keeps the served build on disk
        self._lock = threading.Lock()
        self._reader_lock = threading.Lock()
        self._token_counter = token_counter
        self._token_lock = threading.Lock()
        self._names: tuple[IndexData, dict[str, frozenset[str]], Counter[str]] | None = None

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory(self.settings)
            return self._embedder

    @property
    def token_counter(self) -> TokenCounter:
        """The embedding model's tokenizer, loaded on first use (it counts OpenAI ``usage``)."""
        name = self.embedder.name
        with self._token_lock:
            if self._token_counter is None:
                self._token_counter = components.token_counter(self.settings, name)
            return self._token_counter

    @property
    def index_dir(self) -> Path:
        return self.settings.index_dir

    # ----- indexing -----
    def index(
        self,
        paths: Iterable[Path] | None = None,
        progress: bool = False,
        on_progress: Progress | None = None,
    ) -> IndexReport:
        """Index files and folders (by default the settings' article sources, uploads
        included); on any error the previous index keeps serving."""
        store.remove_unused(self.index_dir)  # what killed builds left
        clock = time.perf_counter()
        articles = load_articles(list(paths) if paths else self.settings.article_sources())
        load_seconds = time.perf_counter() - clock
        previous = self._previous_build()
        data, report = build(
            articles,
            chunker=self.chunker,
            embedder=self.embedder,
            backend=self.backend,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            k1=self.settings.bm25_k1,
            b=self.settings.bm25_b,
            previous=previous,
            progress=progress,
            on_progress=on_progress,
        )
        report.seconds = {"load_clean": load_seconds, **report.seconds}
        clock = time.perf_counter()
        self.index_dir.parent.mkdir(parents=True, exist_ok=True)
        build_dir, lease = store.save(data, self.index_dir, self.backend)
        try:
            # served from the saved files, as a restarted process serves them: the compact
            # tables and memory-mapped vectors instead of the build's objects
            saved = store.load_embedded(build_dir, self._model_name())
        except BaseException:
            lease.release()
            raise
        data = replace(data, articles=saved.articles, chunks=saved.chunks, vectors=saved.vectors)
        with self._lock:
            self._serve(data, build_dir, lease)
        store.remove_unused(self.index_dir)  # the previous build, unless another process serves it
        report.seconds["save"] = time.perf_counter() - clock
        return report

    def _serve(self, data: IndexData, build_dir: Path, lease: build_locks.BuildLock) -> None:
        if self._lease is not None:
            self._lease.release()
        self._data, self._loaded_from, self._lease = data, build_dir, lease

    def _previous_build(self) -> EmbeddedBuild | None:
        """The serving build's vectors, or those of a build this backend cannot load (another
        backend's, or one whose Milvus collection is gone), so none are embedded again."""
        try:
            data = self.data
        except HoidapError:
            if not self.index_dir.exists():
                return None
            try:
                return store.load_embedded(self.index_dir.resolve(), self._model_name())
            except HoidapError:
                return None
        return EmbeddedBuild(
            data.manifest, data.articles, data.chunks, data.vectors, self._loaded_from
        )

    # ----- reading -----
    @property
    def data(self) -> IndexData:
        with self._lock:
            for _ in range(_RESOLVE_TRIES):
                if not self.index_dir.exists():
                    raise IndexMissingError(
                        f"Chưa có chỉ mục ở {self.index_dir}. Hãy chạy `qa index` trước."
                    )
                target = self.index_dir.resolve()
                if self._data is not None and self._loaded_from == target:
                    return self._data
                lease = build_locks.hold(target)
                if lease is not None:
                    break
            else:
                raise IndexMissingError(
                    f"Chỉ mục ở {self.index_dir} vừa được thay nhiều lần liền; hãy thử lại."
                )
            try:
                data = store.load(target, self._model_name(), self.backend)
            except BaseException:
                lease.release()
                raise
            self._serve(data, target, lease)
            return data

    def _model_name(self) -> str:
        if self._embedder is not None:
            return self._embedder.name
        return self.settings.model

    def retriever(self) -> Retriever:
        """The injected retriever, or the one the settings choose over the current index."""
        if self._retriever is not None:
            return self._retriever
        return components.retriever(self.settings, self.data, self.embedder)

    def check_question(self, question: str) -> str:
        """Trimmed, NFC; empty or too long questions are refused with a clear message. The length
        is the one sent (NFC may lengthen a text), as the API's schema says (``maxLength``)."""
        text = (question or "").strip()
        if not text:
            raise InputError("Câu hỏi trống. Hãy nhập một câu hỏi.")
        limit = self.settings.max_question_chars
        if len(text) > limit:
            raise InputError(f"Câu hỏi quá dài ({len(text)} ký tự; tối đa {limit} ký tự).")
        return nfc(text)

    def search(self, query: str, k: int | None = None, exclude: Collection[str] = ()) -> list[Hit]:
        """The ``k`` best passages; ``exclude`` names articles to search as if they were not in
        the index (eval's "gold article removed" questions)."""
        text = self.check_question(query)
        k = self.settings.top_k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InputError(f"Số kết quả k phải từ 1 đến {MAX_K} (nhận {k}).")
        return self._retrieve(text, k, exclude)

    def _retrieve(self, text: str, k: int, exclude: Collection[str]) -> list[Hit]:
        if not exclude:
            return self.retriever().retrieve(text, k)
        hidden = sum(c.article_id in exclude for c in self.data.chunks)
        hits = self.retriever().retrieve(text, k + hidden)
        kept = [h for h in hits if h.chunk.article_id not in exclude][:k]
        return [replace(h, rank=rank) for rank, h in enumerate(kept, start=1)]

    def answerer(self, exclude: Collection[str] = (), name: str | None = None) -> Answerer:
        """The injected answerer, or the one the settings choose (or ``name``: "reader",
        "extractive", ...) over the current index, as if the ``exclude`` articles were not in
        it."""
        if self._answerer is not None:
            return self._answerer
        settings = self.settings
        if name is not None and name != settings.answerer:
            settings = settings.model_copy(update={"answerer": name})
        return components.answerer(settings, self._without(exclude), reader=self._span_reader)

    def _without(self, exclude: Collection[str]) -> IndexData:
        """The index with the names only the ``exclude`` articles use taken out, so that a
        question about a removed article meets the same name check as a corpus without it."""
        data = self.data
        if not exclude:
            return data
        with self._lock:
            if self._names is None or self._names[0] is not data:
                per = {i: name_phrases([a]) for i, a in data.articles.items()}
                self._names = (data, per, Counter(n for names in per.values() for n in names))
            _, per, counts = self._names
        gone = Counter(n for i in set(exclude) for n in per.get(i, ()))
        return replace(data, names=data.names - {n for n, c in gone.items() if c >= counts[n]})

    def _span_reader(self) -> components.LoadedReader:
        """The reader, loaded once per pipeline; a load that failed fails the same way again."""
        with self._reader_lock:
            if self._reader is None:
                try:
                    self._reader = components.span_reader(self.settings)
                except ModelError as exc:
                    self._reader = exc
            if isinstance(self._reader, ModelError):
                raise self._reader
            return self._reader

    def _prepare(
        self, question: str, history: Sequence[Turn], exclude: Collection[str]
    ) -> tuple[str, str, list[Hit], float]:
        text = self.check_question(question)
        clock = time.perf_counter()
        standalone = rewrite(text, history)
        hits = self._retrieve(standalone, self.settings.top_k, exclude)
        return text, standalone, hits, time.perf_counter() - clock

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        exclude: Collection[str] = (),
        answerer: str | None = None,
    ) -> Answer:
        """Answer with citations, or refuse; follow-ups are read in the light of ``history``;
        ``answerer`` names another answerer than the settings' one."""
        *_, answer = self.ask_stream(question, history, exclude, answerer)
        assert isinstance(answer, Answer)
        return answer

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        exclude: Collection[str] = (),
        answerer: str | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas as the answer is written, then the final checked ``Answer``."""
        text, standalone, hits, retrieve_seconds = self._prepare(question, history, exclude)
        clock = time.perf_counter()
        for item in self.answerer(exclude, answerer).stream(standalone, hits):
            if isinstance(item, Answer):
                item.question = text
                item.standalone_question = standalone
                item.timings = {
                    **item.timings,
                    "retrieve": retrieve_seconds,
                    "answer": time.perf_counter() - clock,
                    "total": retrieve_seconds + time.perf_counter() - clock,
                }
            yield item

    def article(self, article_id: str) -> Article:
        article = self.data.articles.get(article_id)
        if article is None:
            raise NotFoundError(f"Không có bài viết mã {article_id!r}.")
        return article

    def articles(self) -> list[Article]:
        return list(self.data.articles.values())
