"""A small SVG line chart for the benchmark results: no plotting library, nothing to download, and
the file renders in any browser or on the repository's web page.

The one curve that says more than a table row: in ``fan_out``, how long it took until 0, 10, ...,
100 % of the watchers had an event, for mapsrv and for each peer.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["fan_out_svg", "line_chart"]

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 170, 40, 50


def _nice_max(value: float) -> float:
    step = 1.0
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def line_chart(title: str, x_label: str, y_label: str, series: dict[str, list[tuple[float, float]]]) -> str:
    """An SVG document with one line per series (points as (x, y)), axes from zero."""
    x_max = _nice_max(max(x for points in series.values() for x, _ in points) or 1)
    y_max = _nice_max(max(y for points in series.values() for _, y in points) or 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return round(LEFT + plot_w * x / x_max, 1)

    def sy(y: float) -> float:
        return round(TOP + plot_h * (1 - y / y_max), 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(6):  # grid and tick labels
        y, x = y_max * i / 5, x_max * i / 5
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{sy(y)}" y2="{sy(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{sy(y) + 4}" text-anchor="end">{y:g}</text>')
        parts.append(f'<text x="{sx(x)}" y="{TOP + plot_h + 18}" text-anchor="middle">{x:g}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')  # fmt: skip
    parts.append(f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')  # fmt: skip
    for n, (name, points) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{sx(x)},{sy(y)}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend_y = TOP + 10 + 20 * n
        parts.append(f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 32}" y1="{legend_y}" '
                     f'y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')  # fmt: skip
        parts.append(f'<text x="{WIDTH - RIGHT + 38}" y="{legend_y + 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def fan_out_svg(result: dict[str, Any]) -> str:
    """The fan_out curves: milliseconds until each tenth of the watchers had the event."""
    series = {
        name: [(10.0 * i, ms) for i, ms in enumerate(entry["curve_ms"])]
        for name, entry in result.items()
        if isinstance(entry, dict) and "curve_ms" in entry
    }
    return line_chart(
        "One event to many watchers: when each share of them had it (median of events)",
        "% of watchers that have the event",
        "ms after the write was sent",
        series,
    )
