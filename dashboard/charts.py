"""Time charts of admin pages, drawn in the browser by uPlot.

uPlot (MIT, maintained, about 50 KB) ships with the CSMS as static files
(`dashboard/static/dashboard/vendor/uplot/`): no CDN, so the console works without internet.
The server renders a `<div class="csms-chart">` holding the chart's series as JSON in its
`data-chart` attribute; `dashboard/static/dashboard/charts.js` draws every such element with a
time axis (local time of the browser, seconds in the tooltip legend) and redraws an element
whose data it is handed again (`csmsCharts.draw(element, data)`: the overview page does so
live).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

Point = tuple[datetime, float]

POWER_COLOUR = "#d9480f"
ENERGY_COLOUR = "#1864ab"
LIMIT_COLOUR = "#c92a2a"


def scale_unit(values: Sequence[float], unit: str) -> tuple[float, str]:
    """Divisor and unit label: W -> kW -> MW so axis labels stay short."""
    peak = max((abs(v) for v in values), default=0.0)
    if peak >= 1_000_000:
        return 1_000_000.0, "M" + unit
    if peak >= 1_000:
        return 1_000.0, "k" + unit
    return 1.0, unit


def series(
    label: str,
    points: Sequence[Point],
    *,
    unit: str,
    colour: str,
    step: bool = False,
    dashed: bool = False,
    axis: int = 0,
) -> dict[str, Any]:
    """One line of a chart; values are scaled to k/M of `unit` where they are large."""
    ordered = sorted(points, key=lambda p: p[0])
    divisor, shown = scale_unit([v for _, v in ordered], unit)
    return {
        "label": f"{label} ({shown})",
        "unit": shown,
        "colour": colour,
        "step": step,
        "dashed": dashed,
        "axis": axis,
        "points": [[at.timestamp(), round(value / divisor, 3)] for at, value in ordered],
    }


def chart_data(
    *,
    title: str,
    lines: list[dict[str, Any]],
    start: datetime | None = None,
    end: datetime | None = None,
    empty: str = "No values",
) -> dict[str, Any]:
    data: dict[str, Any] = {"title": title, "series": lines, "empty": empty}
    if start is not None and end is not None:
        data["range"] = [start.timestamp(), end.timestamp()]
    return data


def assets() -> SafeString:
    """The script and style tags the charts need (repeating them on a page is harmless)."""
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}"></script>'
        '<script src="{}" defer></script>',
        static("dashboard/vendor/uplot/uPlot.min.css"),
        static("dashboard/vendor/uplot/uPlot.iife.min.js"),
        static("dashboard/charts.js"),
    )


def chart_html(data: dict[str, Any], *, height: int = 260, element_id: str = "") -> SafeString:
    """The element charts.js draws `data` into, with the assets."""
    return format_html(
        '{}<div class="csms-chart"{} data-height="{}" data-chart="{}" role="img" '
        'aria-label="{}"></div>',
        assets(),
        format_html(' id="{}"', element_id) if element_id else "",
        height,
        json.dumps(data),
        data["title"],
    )


def power_energy_chart_data(
    power: Sequence[Point], energy: Sequence[Point], *, title: str = ""
) -> dict[str, Any]:
    """Power (W, steps: a sampled average holds until the next sample) and energy (Wh) of a
    session on one time axis, power on the left scale and energy on the right."""
    return chart_data(
        title=title or "Power and energy over time",
        lines=[
            series("Power", power, unit="W", colour=POWER_COLOUR, step=True, axis=0),
            series("Energy", energy, unit="Wh", colour=ENERGY_COLOUR, axis=1),
        ],
        empty="No meter values",
    )


def power_energy_chart_html(
    power: Sequence[Point], energy: Sequence[Point], *, title: str = ""
) -> SafeString:
    return chart_html(power_energy_chart_data(power, energy, title=title), height=300)
