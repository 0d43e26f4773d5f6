"""The site page's chart: total charging power over time under the site's limit (SVG).

Server-side SVG like the transaction chart (`dashboard.charts`): no JavaScript, no asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from django.utils.safestring import SafeString, mark_safe

from dashboard.charts import nice_ticks

LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 36
POWER_COLOUR = "#d9480f"
LIMIT_COLOUR = "#c92a2a"


def site_power_chart(
    power: Sequence[tuple[datetime, float]],
    *,
    limit_w: float,
    start: datetime,
    end: datetime,
    title: str = "",
    width: int = 720,
    height: int = 260,
) -> str:
    """Total power (W, drawn as steps) and the limit (a dashed line) between start and end."""
    if end <= start:
        end = start + timedelta(minutes=1)
    scale, unit = (1000.0, "kW") if max([limit_w, *(v for _, v in power)]) >= 1000 else (1.0, "W")
    values = [(at, value / scale) for at, value in sorted(power)]
    limit = limit_w / scale
    ticks = nice_ticks(0.0, max([limit * 1.1, *(v for _, v in values)]))
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        return LEFT + (at - start).total_seconds() / span * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - (value - low) / ((high - low) or 1) * plot_h

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="csms-chart site-power" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title or "Site power")}" font-family="sans-serif">',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#333">'
        f"{escape(title or 'Site power')} ({unit})</text>",
    ]
    for tick in ticks:
        svg.append(
            f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{width - RIGHT}" y2="{y(tick):.1f}" '
            f'stroke="#e5e5e5"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#555">{tick:g}</text>'
        )
    for i in range(5):
        at = start + timedelta(seconds=span * i / 4)
        svg.append(
            f'<text x="{x(at):.1f}" y="{height - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle" fill="#555">{at:%H:%M:%S}</text>'
        )
    svg.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
    )
    svg.append(
        f'<line class="limit" x1="{LEFT}" y1="{y(limit):.1f}" x2="{width - RIGHT}" '
        f'y2="{y(limit):.1f}" stroke="{LIMIT_COLOUR}" stroke-width="2" stroke-dasharray="6 4">'
        f"<title>limit {limit:g} {unit}</title></line>"
    )
    if values:
        coords = []
        previous = None
        for at, value in values:
            if previous is not None:
                coords.append(f"{x(at):.1f},{y(previous):.1f}")
            coords.append(f"{x(at):.1f},{y(value):.1f}")
            previous = value
        coords.append(f"{x(end):.1f},{y(values[-1][1]):.1f}")
        svg.append(
            f'<polyline class="power" points="{" ".join(coords)}" fill="none" '
            f'stroke="{POWER_COLOUR}" stroke-width="2"/>'
        )
        peak_at, peak = max(values, key=lambda item: item[1])
        svg.append(
            f'<circle cx="{x(peak_at):.1f}" cy="{y(peak):.1f}" r="3" fill="{POWER_COLOUR}">'
            f"<title>peak {peak:g} {unit} at {peak_at:%Y-%m-%d %H:%M:%S %Z}</title></circle>"
        )
    else:
        svg.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" font-size="12" '
            f'text-anchor="middle" fill="#888">no meter values</text>'
        )
    svg.append("</svg>")
    return "".join(svg)


def site_power_chart_html(power: Sequence[tuple[datetime, float]], **options) -> SafeString:
    """`site_power_chart` marked safe (every text in it is escaped here)."""
    return mark_safe(site_power_chart(power, **options))
