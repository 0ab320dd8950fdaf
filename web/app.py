"""The app factory: ``create_app(settings)`` gives the chat page and the HTTP API.

Errors become responses here and only here: JSON under /api, /v1 and /healthz, the HTML error
page everywhere else. (A stream that fails after its headers are sent reports the same
``Problem`` in its last event: see ``web.sse.guarded``.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.routing import Match, Mount

from qa import __version__
from qa.core.errors import AuthenticationError, BusyError, HoidapError
from qa.core.settings import Settings
from qa.pipeline import Pipeline
from web import dates, errors, responses
from web.accounts import Accounts
from web.article_search import ArticleSearch
from web.compute import Compute
from web.conversations import ConversationStore
from web.deps import get_owner
from web.errors import Problem, describe
from web.hosts import AllowedHosts, SameOrigin
from web.limits import BodyLimit, too_large
from web.openapi import document_settings
from web.owners import viewer
from web.reindex import Reindexer
from web.routes import admin, articles, ask, conversations, docs, health, login, openai, pages
from web.routes.login import login_url
from web.security import HEADERS, SecurityHeaders
from web.sessions import add_sessions
from web.starters import Starters
from web.uploads import Uploads

WEB_DIR = Path(__file__).resolve().parent
# Swagger UI 5 (it reads OpenAPI 3.1), as the fastapi-offline package ships it
SWAGGER_UI_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
_HTTP_MESSAGES = {
    400: "Không đọc được nội dung gửi lên.",
    404: "Không tìm thấy trang này.",
    405: "Phương thức HTTP này không được hỗ trợ ở đây.",
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
logger = logging.getLogger(__name__)


def create_app(settings: Settings, pipeline: Pipeline | None = None) -> FastAPI:
    store = ConversationStore(settings.db_path)
    accounts = Accounts(settings.db_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()
        accounts.close()

    app = FastAPI(
        title="hoidap",
        version=__version__,
        description="Hỏi đáp tiếng Việt trên các bài viết, có trích dẫn chính xác đến từng ký tự.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = pipeline or Pipeline(settings)
    app.state.store = store
    app.state.starters = Starters()
    app.state.article_search = ArticleSearch()
    app.state.accounts = accounts
    app.state.uploads = Uploads(settings.uploads_dir, settings.max_upload_bytes)
    app.state.reindexer = Reindexer(app.state.pipeline)
    app.state.compute = Compute(
        settings.server_workers or len(os.sched_getaffinity(0)), settings.server_queue
    )
    app.state.templates = _templates()
    # the last added runs first: headers on everything, then the host, the body's size, the
    # origin of a write, and only then the session and the app
    add_sessions(app, settings)
    app.add_middleware(SameOrigin)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        per_path=dict.fromkeys(admin.UPLOAD_PATHS, settings.max_upload_request_bytes),
    )
    app.add_middleware(AllowedHosts, hosts=settings.served_hosts())
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.mount(
        "/docs/assets",
        StaticFiles(directory=SWAGGER_UI_DIR),
        name="swagger-ui",
    )
    # everything that shows articles or conversations needs to know who asks
    for area in (pages, ask, articles, conversations, openai, admin):
        app.include_router(
            area.router,
            dependencies=[Depends(get_owner)],
            responses={**responses.errors(401), **responses.EDGES},
        )
    for area in (login, health, docs):
        app.include_router(area.router, responses=responses.EDGES)
    document_settings(app, settings)
    _add_exception_handlers(app)
    return app


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    # Vietnamese writes decimals with a comma
    env.filters["seconds"] = lambda value: f"{value:.2f}".replace(".", ",")
    env.filters["when"] = dates.when
    env.filters["iso"] = dates.iso
    # the API's own descriptions; raw HTML in them is shown as text, never run
    markdown = MarkdownIt("commonmark", {"html": False})
    env.filters["markdown"] = lambda text: Markup(markdown.render(text))
    return Jinja2Templates(env=env, context_processors=[viewer])


def _add_exception_handlers(app: FastAPI) -> None:
    def respond(
        request: Request, problem: Problem, headers: dict[str, str] | None = None
    ) -> Response:
        # the 500 handler runs outside the middleware stack, so the headers are set here too
        return errors.respond(request, problem, {**HEADERS, **(headers or {})})

    @app.exception_handler(HoidapError)
    async def library_error(request: Request, exc: HoidapError) -> Response:
        if isinstance(exc, AuthenticationError):
            if not errors.wants_json(request):
                return RedirectResponse(login_url(request.url), status_code=303)
            return respond(request, describe(exc), {"WWW-Authenticate": "Bearer"})
        if isinstance(exc, BusyError):
            return respond(request, describe(exc), {"Retry-After": str(exc.retry_after)})
        return respond(request, describe(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        message = f"Dữ liệu gửi lên không hợp lệ ({fields})."
        return respond(request, Problem(422, "input_error", message))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 413:  # the body limit stopped the reading (web.limits)
            return respond(request, too_large(request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)))
        if isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI could not decode the JSON
            message = "Nội dung gửi lên không phải văn bản UTF-8 hợp lệ."
            return respond(request, Problem(422, "input_error", message))
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        headers = exc.headers
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return respond(request, Problem(exc.status_code, "http_error", message), headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("Unhandled error on %s %s", request.method, request.url.path)
        return respond(request, describe(exc))


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route of the path takes (Starlette's 405 names only the first route's)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
            if not isinstance(route, Mount)  # a mount takes any method and answers its own 405
        )
    ]
