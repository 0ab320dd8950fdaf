"""``Annotated`` dependency aliases; everything comes from the app the factory built."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from qa.core.errors import InputError
from qa.core.settings import Settings
from qa.pipeline import Pipeline
from web.accounts import Accounts
from web.article_search import ArticleSearch
from web.chat import Chat
from web.compute import Compute
from web.conversations import ConversationStore
from web.owners import Owner, resolve
from web.starters import Starters


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


def get_store(request: Request) -> ConversationStore:
    return request.app.state.store


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_starters(request: Request) -> Starters:
    return request.app.state.starters


def get_article_search(request: Request) -> ArticleSearch:
    return request.app.state.article_search


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def get_compute(request: Request) -> Compute:
    return request.app.state.compute


def get_owner(request: Request) -> Owner:
    return resolve(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
StoreDep = Annotated[ConversationStore, Depends(get_store)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
StartersDep = Annotated[Starters, Depends(get_starters)]
ArticleSearchDep = Annotated[ArticleSearch, Depends(get_article_search)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
OwnerDep = Annotated[Owner, Depends(get_owner)]
ComputeDep = Annotated[Compute, Depends(get_compute)]


def get_admin(owner: OwnerDep) -> Owner:
    owner.require_admin()
    return owner


AdminDep = Annotated[Owner, Depends(get_admin)]


def get_chat(pipeline: PipelineDep, store: StoreDep, owner: OwnerDep) -> Chat:
    return Chat(pipeline, store, owner.id)


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form body (what the pages post without JavaScript), in UTF-8."""
    try:
        body = (await request.body()).decode("utf-8")
        return dict(parse_qsl(body, keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError:
        raise InputError("Biểu mẫu gửi lên không phải văn bản UTF-8 hợp lệ.") from None


ChatDep = Annotated[Chat, Depends(get_chat)]
FormDep = Annotated[dict[str, str], Depends(read_form)]
