"""Strip scraped page furniture from an article and pull out its title, date and source.

The cleaned text is what offsets point into, so cleaning only drops whole furniture lines
(and the furniture prefix glued to the first paragraph); article sentences are never rewritten
beyond whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text.vietnamese import nfc

# A line that starts the page footer: everything from it on is not article text.
_FOOTER_START = re.compile(
    r"^\s*(tin khác|tin liên quan|các tin khác|các tin đã đưa( ngày)?:?|thống kê truy cập|"
    r"bài viết liên quan|tin cùng chuyên mục|xem thêm)\s*:?\s*$",
    re.IGNORECASE,
)
# Whole lines that are furniture wherever they stand.
_FURNITURE_LINE = re.compile(
    r"^\s*("
    r"description:\s*.*\.(jpe?g|png|gif|bmp|webp)"  # image file captions from Word exports
    r"|(\d+\s+){2,}(\.\.\.|…)?"  # rows of page numbers: "1 2 3 4 5 ..."
    r"|in bài viết|bản in|chia sẻ|lượt xem:?\s*\d+"
    r"|[•·]\s*(đang online|hôm nay|trong tuần|tất cả|hôm qua|trong tháng)\s*:.*"
    r")\s*$",
    re.IGNORECASE,
)
_TIME = r"(?:\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp][Mm])?\s*)"
_DATE = r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"
# "03:17 PM 10/09/2022 | Lượt xem: 2500 In bài viết |" glued before the first paragraph.
_DATELINE = re.compile(
    rf"^\s*{_TIME}?{_DATE}\s*{_TIME}?"
    r"(?:\s*\|\s*lượt xem:?\s*\d+)?(?:\s*in bài viết)?\s*\|?\s*",
    re.IGNORECASE,
)
# a date in running text: "27/6/2022", "27-06-2022", "ngày 27 tháng 6 năm 2022"
_TEXT_DATE = re.compile(
    r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b"
    r"|\bngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})\b",
    re.IGNORECASE,
)
_SOURCE_PAREN = re.compile(r"^\(([\w.-]+\.[a-z]{2,})\)$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u200b]+")
_TITLE_MAX = 220


@dataclass(frozen=True)
class Cleaned:
    title: str
    text: str
    date: str
    source: str


def _iso(day: str, month: str, year: str) -> str:
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def _is_title(line: str) -> bool:
    return 0 < len(line) <= _TITLE_MAX and not line.endswith((":", ","))


def clean_text(raw: str, title: str | None = None) -> Cleaned:
    """Clean scraped text. ``title`` given (e.g. from a JSONL field) skips title detection."""
    lines = [_SPACES.sub(" ", line).strip() for line in nfc(raw).replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]

    body: list[str] = []
    for line in lines:
        if _FOOTER_START.match(line):
            break
        if not _FURNITURE_LINE.match(line):
            body.append(line)

    date = ""
    source = ""
    if title is None:
        # The first line is a title when it is short and more text follows.
        title = body.pop(0) if len(body) > 1 and _is_title(body[0]) else ""
    for i, line in enumerate(body[:3]):
        match = _DATELINE.match(line)
        if match:
            date = _iso(*match.groups())
            rest = line[match.end() :].strip()
            if rest:
                body[i] = rest
            else:
                del body[i]
            break

    if body:
        paren = _SOURCE_PAREN.match(body[-1])
        if paren:
            source = paren.group(1)
            body.pop()
    if not source and len(body) > 1 and _looks_like_byline(body[-1]):
        source = body[-1].rstrip("./ ")
    return Cleaned(title=title.strip(), text="\n".join(body), date=date, source=source)


def date_in_text(text: str) -> str:
    """The date of an article whose header has none, from its first paragraph: the latest
    one there, since the documents a report cites ("Kế hoạch số 35 ngày 13/6/2022") come
    before the event it reports ("ngày 27/6/2022"). ISO, or "" when there is none."""
    first = text.split("\n", 1)[0]
    found = []
    for match in _TEXT_DATE.finditer(first):
        day, month, year = (int(g) for g in match.groups() if g is not None)
        if 1 <= day <= 31 and 1 <= month <= 12 and 1900 <= year <= 2100:
            found.append((year, month, day))
    if not found:
        return ""
    year, month, day = max(found)
    return f"{year:04d}-{month:02d}-{day:02d}"


def _looks_like_byline(line: str) -> bool:
    """A short last line naming the writer: 'Văn Thành', 'Tin, ảnh: Cảnh Tuân, Văn phòng./.'."""
    words = line.split()
    if not 1 <= len(words) <= 10 or len(line) > 80:
        return False
    return line.endswith("./.") or all(w[:1].isupper() or not w[:1].isalpha() for w in words)


def fallback_title(text: str, max_words: int = 12) -> str:
    """A title for an article that has none: its first words."""
    first = text.split("\n", 1)[0]
    words = first.split()
    head = " ".join(words[:max_words])
    return head + ("…" if len(words) > max_words else "")
