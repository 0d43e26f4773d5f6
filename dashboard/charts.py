"""Server-side SVG charts: power and energy of a charging session over time.

No JavaScript and no external asset: the CSMS may run without internet, and an SVG string
embeds in any admin page (`format_html("{}", mark_safe(svg))` or the `|safe` filter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from django.utils.safestring import SafeString, mark_safe

Point = tuple[datetime, float]

# Layout of one panel, in SVG user units.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 36
POWER_COLOUR = "#d9480f"
ENERGY_COLOUR = "#1864ab"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if high < low:
        low, high = high, low
    if math.isclose(high, low):
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [round(math.floor(low / step) * step, 10)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _scale_unit(values: Sequence[float], unit: str) -> tuple[float, str]:
    """Divisor and unit label: W -> kW -> MW so tick labels stay short."""
    peak = max((abs(v) for v in values), default=0.0)
    if peak >= 1_000_000:
        return 1_000_000.0, "M" + unit
    if peak >= 1_000:
        return 1_000.0, "k" + unit
    return 1.0, unit


def _format_number(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _time_ticks(start: datetime, end: datetime, count: int = 6) -> list[datetime]:
    span = (end - start).total_seconds()
    steps = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800]
    step = next((s for s in steps if span / s <= count), steps[-1] * math.ceil(span / 86400 / 6))
    epoch = start.timestamp()
    first = math.ceil(epoch / step) * step
    ticks = []
    value = first
    while value <= end.timestamp():
        ticks.append(datetime.fromtimestamp(value, tz=start.tzinfo))
        value += step
    return ticks


def _time_label(moment: datetime, span: timedelta) -> str:
    return moment.strftime("%d %b %H:%M" if span > timedelta(days=1) else "%H:%M")


def _panel(
    points: Sequence[Point],
    *,
    title: str,
    unit: str,
    colour: str,
    start: datetime,
    end: datetime,
    y_offset: float,
    width: int,
    height: int,
    step_line: bool,
) -> list[str]:
    plot_w = width - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    divisor, unit_label = _scale_unit([v for _, v in points], unit)
    values = [v / divisor for _, v in points]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values]))
    y_low, y_high = ticks[0], ticks[-1]
    span_s = max((end - start).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        return LEFT + (moment - start).total_seconds() / span_s * plot_w

    def y_of(value: float) -> float:
        return y_offset + TOP + plot_h - (value - y_low) / (y_high - y_low) * plot_h

    parts = [
        f'<g class="panel" data-series="{escape(title)}">',
        f'<text x="{LEFT}" y="{y_offset + 18}" font-size="13" font-weight="bold" '
        f'fill="#333">{escape(title)} ({escape(unit_label)})</text>',
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" y2="{y:.1f}" '
            f'stroke="#e5e5e5" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#555">{_format_number(tick)}</text>'
        )
    span = end - start
    for moment in _time_ticks(start, end):
        x = x_of(moment)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y_offset + TOP}" x2="{x:.1f}" '
            f'y2="{y_offset + TOP + plot_h}" stroke="#f0f0f0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{y_offset + height - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle" fill="#555">{escape(_time_label(moment, span))}</text>'
        )
    parts.append(
        f'<rect x="{LEFT}" y="{y_offset + TOP}" width="{plot_w}" height="{plot_h}" '
        f'fill="none" stroke="#999" stroke-width="1"/>'
    )
    if points:
        coords: list[str] = []
        previous_y: float | None = None
        for (moment, _), value in zip(points, values, strict=True):
            x, y = x_of(moment), y_of(value)
            if step_line and previous_y is not None:
                coords.append(f"{x:.1f},{previous_y:.1f}")
            coords.append(f"{x:.1f},{y:.1f}")
            previous_y = y
        parts.append(
            f'<polyline points="{" ".join(coords)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
        for (moment, _), value in zip(points, values, strict=True):
            parts.append(
                f'<circle cx="{x_of(moment):.1f}" cy="{y_of(value):.1f}" r="2.5" '
                f'fill="{colour}"><title>{escape(moment.strftime("%Y-%m-%d %H:%M:%S %Z"))}: '
                f"{_format_number(value)} {escape(unit_label)}</title></circle>"
            )
    else:
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{y_offset + TOP + plot_h / 2:.1f}" '
            f'font-size="12" text-anchor="middle" fill="#888">no values</text>'
        )
    parts.append("</g>")
    return parts


def power_energy_chart(
    power: Sequence[Point],
    energy: Sequence[Point],
    *,
    width: int = 720,
    panel_height: int = 220,
    title: str = "",
) -> str:
    """An SVG document with two panels sharing the time axis: power (W) and energy (Wh).

    Points are (aware datetime, value) in W and Wh; they are sorted by time, and units are
    scaled to k/M where the values are large. Power is drawn as steps (a sampled average
    holds until the next sample), energy as a line.
    """
    power = sorted(power, key=lambda p: p[0])
    energy = sorted(energy, key=lambda p: p[0])
    moments = [m for m, _ in power] + [m for m, _ in energy]
    header = 24 if title else 0
    total_h = header + 2 * panel_height
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="csms-chart" width="{width}" '
        f'height="{total_h}" viewBox="0 0 {width} {total_h}" role="img" '
        f'aria-label="{escape(title or "Power and energy over time")}" '
        f'font-family="sans-serif">'
    ]
    if title:
        svg.append(
            f'<text x="{width / 2:.1f}" y="17" font-size="14" text-anchor="middle" '
            f'fill="#222">{escape(title)}</text>'
        )
    if not moments:
        svg.append(
            f'<text x="{width / 2:.1f}" y="{header + panel_height:.1f}" font-size="13" '
            f'text-anchor="middle" fill="#888">No meter values</text></svg>'
        )
        return "".join(svg)
    start, end = min(moments), max(moments)
    if end <= start:
        end = start + timedelta(minutes=1)
    common = {"start": start, "end": end, "width": width, "height": panel_height}
    svg += _panel(
        power,
        title="Power",
        unit="W",
        colour=POWER_COLOUR,
        y_offset=header,
        step_line=True,
        **common,
    )
    svg += _panel(
        energy,
        title="Energy",
        unit="Wh",
        colour=ENERGY_COLOUR,
        y_offset=header + panel_height,
        step_line=False,
        **common,
    )
    svg.append("</svg>")
    return "".join(svg)


def power_energy_chart_html(
    power: Sequence[Point], energy: Sequence[Point], **options: object
) -> SafeString:
    """`power_energy_chart` marked safe for a template or `format_html` (every text in it is
    escaped here)."""
    return mark_safe(power_energy_chart(power, energy, **options))
