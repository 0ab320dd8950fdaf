"""``/docs``: the OpenAPI document as a page with its Markdown rendered, and ``/docs/try``, Swagger
UI to send requests from the browser. Swagger UI's files come from the ``fastapi-offline``
package and are served from here: the page needs no CDN."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from web.deps import TemplatesDep

router = APIRouter(include_in_schema=False)

_METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, templates: TemplatesDep) -> HTMLResponse:
    spec = request.app.openapi()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]
    return templates.TemplateResponse(
        request, "docs.html", {"info": spec["info"], "operations": operations}
    )


@router.get("/docs/try", response_class=HTMLResponse)
def try_it(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "docs_try.html", {})
