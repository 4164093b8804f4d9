"""The datasource page's chart as plain shapes: bars of calls with their errors in
front, and the p95 latency as a line on its own scale. The template draws them as
inline SVG (templates/connect/_stats_chart.html), so the page needs no script;
every value here is a number or a time the plugin wrote, never user text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

WIDTH = 720
HEIGHT = 180
PAD_LEFT = 44
PAD_RIGHT = 56
PAD_TOP = 10
PAD_BOTTOM = 24


@dataclass
class Chart:
    width: int
    height: int
    plot: dict
    bars: list[dict] = field(default_factory=list)
    p95_points: str = ""
    p95_dots: list[dict] = field(default_factory=list)
    x_ticks: list[dict] = field(default_factory=list)
    max_calls: int = 0
    max_p95: float = 0.0
    rows: list[dict] = field(default_factory=list)
    empty: bool = True


def _nice(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^n at or above ``value`` (an axis' top)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _hhmm(iso_text: str) -> str:
    return datetime.fromisoformat(iso_text).strftime("%H:%M")


def build_chart(stats: dict) -> Chart:
    series = stats["series"]
    left, top = PAD_LEFT, PAD_TOP
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    chart = Chart(WIDTH, HEIGHT, {"x": left, "y": top, "w": plot_w, "h": plot_h, "bottom": top + plot_h,
                                  "right": left + plot_w})
    if not series:
        return chart
    max_calls = _nice(max((b["calls"] for b in series), default=0))
    max_p95 = _nice(max((b["p95_ms"] or 0 for b in series), default=0))
    chart.max_calls, chart.max_p95 = int(max_calls), max_p95
    step = plot_w / len(series)
    points = []
    for index, bucket in enumerate(series):
        x = left + index * step
        if bucket["calls"]:
            height = plot_h * bucket["calls"] / max_calls
            error_height = plot_h * bucket["errors"] / max_calls
            chart.bars.append({"x": round(x, 2), "w": round(max(step - 0.5, 0.5), 2),
                               "y": round(top + plot_h - height, 2), "h": round(height, 2),
                               "ey": round(top + plot_h - error_height, 2), "eh": round(error_height, 2)})
            chart.rows.append({"time": _hhmm(bucket["start"]), "start": bucket["start"], "calls": bucket["calls"],
                               "errors": bucket["errors"], "p95_ms": bucket["p95_ms"]})
        if bucket["p95_ms"] is not None:
            cx = round(x + step / 2, 2)
            cy = round(top + plot_h - plot_h * bucket["p95_ms"] / max_p95, 2)
            points.append(f"{cx},{cy}")
            chart.p95_dots.append({"cx": cx, "cy": cy})
    chart.p95_points = " ".join(points)
    chart.empty = not chart.bars
    every = max(1, len(series) // 6)
    for index in range(0, len(series), every):
        chart.x_ticks.append({"x": round(left + index * step, 2), "label": _hhmm(series[index]["start"])})
    return chart
