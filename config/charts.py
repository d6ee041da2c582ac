"""Small bar charts drawn on the server as SVG geometry (no script, no CDN).

``stacked_bars`` turns labelled counts into rectangles for
``templates/admin/tessera/bar_chart.html``; the template draws them with SVG
presentation attributes (the strict CSP allows no inline styles) and gives
each bar a ``<title>`` with its figures, and the chart a text summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 560
HEIGHT = 140
PAD_LEFT = 34  # room for the axis figures
PAD_BOTTOM = 18  # room for the labels below


@dataclass
class Segment:
    key: str
    value: int
    y: float
    height: float
    color: str


@dataclass
class Bar:
    x: float
    width: float
    label: str
    title: str
    total: int
    segments: list[Segment] = field(default_factory=list)


def _nice_top(value: float) -> int:
    """The axis top: the first of 1, 2, 5, 10, 20, 50 … at least ``value``."""
    top = 1
    while top < value:
        top = top * 5 // 2 if str(top)[0] == "2" else top * 2
    return top


def stacked_bars(
    series: list[tuple[str, dict[str, int]]],
    colors: dict[str, str],
    *,
    label_every: int = 1,
    title: str = "",
) -> dict:
    """``series``: (label, {key: count}) per bar, oldest first; keys are
    stacked bottom-up in the order of ``colors``."""
    inner_w = WIDTH - PAD_LEFT
    inner_h = HEIGHT - PAD_BOTTOM
    top = _nice_top(max((sum(v.values()) for _, v in series), default=0) or 1)
    slot = inner_w / max(len(series), 1)
    bars = []
    for i, (label, values) in enumerate(series):
        bar = Bar(
            x=round(PAD_LEFT + i * slot + slot * 0.15, 2),
            width=round(slot * 0.7, 2),
            label=label if i % label_every == 0 else "",
            title=f"{label}: " + ", ".join(f"{values.get(k, 0)} {k}" for k in colors),
            total=sum(values.values()),
        )
        base = inner_h
        for key, color in colors.items():
            value = values.get(key, 0)
            if not value:
                continue
            h = round(value / top * (inner_h - 6), 2)
            base -= h
            bar.segments.append(Segment(key, value, round(base, 2), h, color))
        bars.append(bar)
    totals = {k: sum(v.get(k, 0) for _, v in series) for k in colors}
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot_left": PAD_LEFT,
        "plot_bottom": inner_h,
        "top": top,
        "mid_y": round(inner_h - (inner_h - 6) / 2, 2),
        "top_y": 6,
        "bars": bars,
        "legend": [(k, c, totals[k]) for k, c in colors.items()],
        "summary": title
        + ": "
        + ", ".join(f"{totals[k]} {k}" for k in colors)
        + f" over {len(series)} periods.",
    }
