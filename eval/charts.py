"""Geometry of the report's inline SVG charts; the templates only draw what is computed here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")
WIDTH, HEIGHT = 460, 230
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 40


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    color: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    legend: list[tuple[str, str]]
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _x(fraction: float) -> float:
    return LEFT + fraction * (WIDTH - RIGHT - LEFT)


def _y(fraction: float) -> float:
    return HEIGHT - BOTTOM - fraction * (HEIGHT - BOTTOM - TOP)


def line_chart(
    title: str, series: Mapping[str, Sequence[float | None]], *, x_label: str, y_label: str
) -> Chart:
    """Values in 0..1 against x = 1..n; a ``None`` value leaves a point out."""
    n = max((len(v) for v in series.values()), default=1)
    span = max(n - 1, 1)
    step = max(n // 10, 1)
    lines = [
        Line(
            color,
            [
                Point(_x((i - 1) / span), _y(v), f"{name} @{i}: {v:.3f}")
                for i, v in enumerate(values, start=1)
                if v is not None
            ],
        )
        for (name, values), color in zip(series.items(), COLORS, strict=False)
    ]
    return Chart(
        title=title,
        x_label=x_label,
        y_label=y_label,
        x_ticks=[Tick(_x((i - 1) / span), str(i)) for i in range(1, n + 1, step)],
        y_ticks=[Tick(_y(f), f"{f:.2f}") for f in (0, 0.25, 0.5, 0.75, 1)],
        legend=list(zip(series, COLORS, strict=False)),
        lines=[line for line in lines if line.points],
    )


def histogram(
    title: str,
    groups: Mapping[str, Sequence[float]],
    *,
    x_label: str,
    bins: int = 10,
    low: float | None = None,
    high: float | None = None,
    label: Callable[[float], str] = lambda v: f"{v:.2f}",
) -> Chart:
    """Counts of each group's values in ``bins`` equal bins, bars of a bin side by side."""
    values = [v for vs in groups.values() for v in vs]
    low = min(values, default=0.0) if low is None else low
    high = max(values, default=1.0) if high is None else high
    if high <= low:
        high = low + 1.0
    width = (high - low) / bins
    counts = {
        name: Counter(min(int((v - low) / width), bins - 1) for v in vs if low <= v <= high)
        for name, vs in groups.items()
    }
    top = max((c for cs in counts.values() for c in cs.values()), default=0) or 1
    slot = 1 / bins
    bar = slot * 0.85 / max(len(groups), 1)
    bars = [
        Bar(
            x=_x(b * slot + slot * 0.075 + g * bar),
            y=_y(count / top),
            width=_x(bar) - _x(0),
            height=_y(0) - _y(count / top),
            color=color,
            title=f"{name}: {count} ({label(low + b * width)}–{label(low + (b + 1) * width)})",
        )
        for g, ((name, cs), color) in enumerate(zip(counts.items(), COLORS, strict=False))
        for b, count in sorted(cs.items())
    ]
    step = max(bins // 5, 1)
    return Chart(
        title=title,
        x_label=x_label,
        y_label="số câu",
        x_ticks=[Tick(_x(b / bins), label(low + b * width)) for b in range(0, bins + 1, step)],
        y_ticks=[Tick(_y(c / top), str(c)) for c in sorted({0, top // 2, top})],
        legend=list(zip(groups, COLORS, strict=False)),
        bars=bars,
    )
