"""Read articles from .txt, .md, .html and .jsonl files into cleaned ``Article`` values."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.core.errors import InputError
from qa.core.types import Article
from qa.ingest.cleaning import clean_text, date_in_text, fallback_title

SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_ID = 200


def article_id(raw: str) -> str:
    """A URL- and log-safe id; ids are never used as file paths."""
    cleaned = _UNSAFE_ID.sub("-", raw.strip()).strip("-.")[:_MAX_ID]
    if not cleaned:
        raise InputError(f"Mã bài viết không hợp lệ: {raw!r}")
    return cleaned


def fingerprint(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n\x00{text}".encode()).hexdigest()[:32]


def make_article(
    raw_id: str,
    text: str,
    *,
    title: str | None = None,
    path: str = "",
    date: str = "",
    source: str = "",
) -> Article:
    cleaned = clean_text(text, title=title)
    if not cleaned.text.strip():
        raise InputError(f"{path or raw_id}: bài viết không có nội dung sau khi làm sạch")
    final_title = cleaned.title or fallback_title(cleaned.text)
    header_date = date or cleaned.date
    found_date = "" if header_date else date_in_text(cleaned.text)
    return Article(
        id=article_id(raw_id),
        title=final_title,
        text=cleaned.text,
        date=header_date or found_date,
        source=source or cleaned.source,
        path=path,
        fingerprint=fingerprint(final_title, cleaned.text),
        title_generated=not cleaned.title,
        date_in_text=bool(found_date),
    )


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: không đọc được tệp ({exc.strerror})") from exc
    if not data.strip():
        raise InputError(f"{path}: tệp rỗng")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: không phải văn bản UTF-8 (byte lỗi ở vị trí {exc.start}); "
            "hãy chuyển tệp sang UTF-8"
        ) from exc


def _html_to_text(html: str) -> tuple[str, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "aside", "form", "noscript"]):
        tag.decompose()
    title_tag = soup.find("h1") or soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    if title_tag is not None and title_tag.name == "h1":
        title_tag.decompose()
    body = soup.body or soup
    return title, body.get_text("\n", strip=True)


def _markdown_title(text: str) -> tuple[str | None, str]:
    first, _, rest = text.lstrip().partition("\n")
    if first.startswith("# "):
        return first[2:].strip(), rest
    return None, text


def _jsonl_articles(path: Path, text: str) -> Iterator[Article]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: dòng JSON hỏng ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f'{where}: cần một đối tượng có trường "text" kiểu chuỗi')
        raw_id = row.get("id")
        if not isinstance(raw_id, str | int):
            raise InputError(f'{where}: thiếu trường "id"')
        title = row.get("title")
        yield make_article(
            str(raw_id),
            row["text"],
            title=title if isinstance(title, str) and title.strip() else None,
            path=where,
            date=str(row.get("date") or ""),
            source=str(row.get("source") or row.get("url") or ""),
        )


def load_file(path: Path) -> list[Article]:
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(_jsonl_articles(path, text))
    title: str | None = None
    if suffix in (".html", ".htm"):
        html_title, text = _html_to_text(text)
        title = html_title or None
    elif suffix == ".md":
        title, text = _markdown_title(text)
    return [make_article(path.stem, text, title=title, path=str(path))]


def discover(paths: Iterable[Path]) -> list[Path]:
    """Article files under the given files and folders, sorted, without duplicates."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUFFIXES and p.name.lower() != "readme.md"
            )
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: không tìm thấy tệp hoặc thư mục")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"Không có bài viết nào ({', '.join(SUFFIXES)}) trong: {shown}")
    return unique


def load_articles(paths: Iterable[Path]) -> list[Article]:
    """Every article under ``paths``; any unreadable file or duplicate id is an error."""
    articles: dict[str, Article] = {}
    for file in discover(paths):
        for article in load_file(file):
            if article.id in articles:
                raise InputError(
                    f"Trùng mã bài viết {article.id!r}: {articles[article.id].path} và {article.path}"
                )
            articles[article.id] = article
    return list(articles.values())
