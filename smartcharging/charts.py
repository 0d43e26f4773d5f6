"""The site page's chart: total charging power over time under the site's limit, drawn in
the browser by the console's charting library (`dashboard.charts`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils.safestring import SafeString

from dashboard.charts import LIMIT_COLOUR, POWER_COLOUR, chart_data, chart_html, scale_unit


def site_power_chart_data(
    power: Sequence[tuple[datetime, float]],
    *,
    limit_w: float,
    start: datetime,
    end: datetime,
    title: str = "",
) -> dict[str, Any]:
    """Total power (W, as steps) and the limit (a dashed line) between start and end."""
    if end <= start:
        end = start + timedelta(minutes=1)
    ordered = sorted(power)
    divisor, unit = scale_unit([limit_w, *(v for _, v in ordered)], "W")
    lines = [
        {
            "label": f"Total power ({unit})",
            "unit": unit,
            "colour": POWER_COLOUR,
            "step": True,
            "dashed": False,
            "axis": 0,
            "points": [[at.timestamp(), round(v / divisor, 3)] for at, v in ordered],
        },
        {
            "label": f"Limit ({unit})",
            "unit": unit,
            "colour": LIMIT_COLOUR,
            "step": False,
            "dashed": True,
            "axis": 0,
            "points": [
                [start.timestamp(), limit_w / divisor],
                [end.timestamp(), limit_w / divisor],
            ],
        },
    ]
    return chart_data(
        title=title or "Total power", lines=lines, start=start, end=end, empty="No power values"
    )


def site_power_chart_html(power: Sequence[tuple[datetime, float]], **options: Any) -> SafeString:
    return chart_html(site_power_chart_data(power, **options))
