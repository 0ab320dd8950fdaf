"""Dates as the sidebar shows them: the time for today and yesterday, the day otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta


def when(timestamp: float, now: datetime | None = None) -> str:
    moment = datetime.fromtimestamp(timestamp)
    today = (now or datetime.now()).date()
    if moment.date() == today:
        return f"hôm nay {moment:%H:%M}"
    if moment.date() == today - timedelta(days=1):
        return f"hôm qua {moment:%H:%M}"
    return f"{moment:%d/%m/%Y}"


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
