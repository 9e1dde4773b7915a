"""Charts drawn as inline SVG on the server, so the admin needs no JavaScript.

Each function returns markup marked safe; every label it embeds is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = (
    "#3266a8",
    "#e07b39",
    "#3a9e5f",
    "#c9473f",
    "#8a5bb0",
    "#8c6d3f",
    "#d4a017",
    "#6b7b8c",
)
FONT = 'font-family="sans-serif" font-size="11"'

Series = tuple[str, Sequence[float | None]]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Return round tick values from 0 to at least ``maximum``."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def format_tick(value: float, percent: bool) -> str:
    if percent:
        return (
            f"{value * 100:.0f}%"
            if value * 100 >= 1 or value == 0
            else f"{value * 100:.1f}%"
        )
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for index, (name, _) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" '
            f'fill="{colour}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" {FONT}>{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return parts


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = False,
    percent: bool = False,
    width: int = 760,
    height: int = 300,
) -> SafeString:
    """Draw grouped (or stacked) vertical bars, one group per category.

    Missing values (None) draw no bar. ``percent`` formats the axis for rates in
    [0, 1].
    """
    left, right, top, bottom = 56, 12, 34, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [[v or 0.0 for v in values] for _, values in series]
    if stacked:
        maximum = max((sum(column) for column in zip(*values, strict=True)), default=0)
    else:
        maximum = max((v for row in values for v in row), default=0)
    ticks = nice_ticks(float(maximum))
    top_value = ticks[-1] or 1.0

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts = _frame(title, width, height)
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f"{FONT}>{format_tick(tick, percent)}</text>"
        )
    parts += _legend(series, left, 24)

    slot = plot_w / max(1, len(categories))
    bars = 1 if stacked else max(1, len(series))
    bar_w = max(1.0, slot * 0.8 / bars)
    rotate = len(categories) > 8
    for index, category in enumerate(categories):
        x0 = left + slot * index + slot * 0.1
        base = 0.0
        for number, (name, raw) in enumerate(series):
            value = raw[index]
            if value is None:
                continue
            colour = PALETTE[number % len(PALETTE)]
            if stacked:
                y, h = y_of(base + value), plot_h * value / top_value
                x = x0
                base += value
            else:
                y, h = y_of(value), plot_h * value / top_value
                x = x0 + bar_w * number
            shown = (
                f"{value * 100:.1f}%"
                if percent
                else f"{value:,.2f}".rstrip("0").rstrip(".")
            )
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(category)}, {escape(name)}: '
                f"{shown}</title></rect>"
            )
        label_x = left + slot * (index + 0.5)
        label_y = top + plot_h + 14
        transform = (
            f' transform="rotate(-40 {label_x:.1f} {label_y:.1f})" text-anchor="end"'
            if rotate
            else ' text-anchor="middle"'
        )
        parts.append(
            f'<text x="{label_x:.1f}" y="{label_y:.1f}"{transform} {FONT}>'
            f"{escape(_shorten(category))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label is escaped above


def funnel_chart(
    stages: Sequence[tuple[str, float]], *, title: str, width: int = 760
) -> SafeString:
    """Draw a horizontal funnel: one bar per stage, scaled to the first stage."""
    row_h, left, top = 26, 170, 30
    height = top + row_h * len(stages) + 10
    first = (
        stages[0][1]
        if stages and stages[0][1]
        else max((value for _, value in stages), default=1) or 1
    )
    plot_w = width - left - 90
    parts = _frame(title, width, height)
    for index, (label, value) in enumerate(stages):
        y = top + row_h * index
        bar = plot_w * min(value / first, 1.0) if first else 0
        share = f" ({value / first:.0%})" if first and index else ""
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end" {FONT}>'
            f"{escape(_shorten(label, 26))}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{bar:.1f}" height="{row_h - 8}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{left + bar + 6:.1f}" y="{y + 16}" {FONT}>'
            f"{value:,.0f}{share}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label is escaped above


def _frame(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="4" y="12" font-family="sans-serif" font-size="12" '
        f'font-weight="bold">{escape(title)}</text>'
    ]


def _shorten(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
