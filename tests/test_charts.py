"""Charts: the server hands uPlot (shipped as static files) each chart's series as JSON."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.template import Context, Template

from dashboard.charts import power_energy_chart_data, power_energy_chart_html

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
STATIC = Path(settings.BASE_DIR) / "dashboard" / "static" / "dashboard"


def session(minutes: int = 60):
    power = [
        (START + timedelta(minutes=m), 7400.0 if m < 50 else 1200.0) for m in range(0, minutes, 5)
    ]
    energy = [(START + timedelta(minutes=m), 7400.0 * m / 60) for m in range(0, minutes, 5)]
    return power, energy


def chart_of(page: str) -> dict:
    found = re.search(r'class="csms-chart"[^>]*data-chart="([^"]*)"', page)
    assert found, "a chart element"
    return json.loads(html.unescape(found[1]))


def test_power_and_energy_share_a_time_axis_in_scaled_units():
    power, energy = session()
    data = power_energy_chart_data(power, energy, title="Session 42")
    assert data["title"] == "Session 42"
    labels = [s["label"] for s in data["series"]]
    assert labels == ["Power (kW)", "Energy (kWh)"]
    first = data["series"][0]
    assert first["step"] is True and first["points"][0] == [START.timestamp(), 7.4]
    assert [s["axis"] for s in data["series"]] == [0, 1]


def test_points_are_sorted_by_time_and_small_values_keep_their_unit():
    power = [(START + timedelta(minutes=10), 500.0), (START, 300.0)]
    data = power_energy_chart_data(power, [])
    assert data["series"][0]["label"] == "Power (W)"
    assert [p[0] for p in data["series"][0]["points"]] == sorted(
        p[0] for p in data["series"][0]["points"]
    )


def test_chart_html_escapes_text_and_loads_the_library_from_our_static_files():
    power, energy = session()
    page = Template("<div>{{ chart }}</div>").render(
        Context({"chart": power_energy_chart_html(power, energy, title="<x>")})
    )
    assert "<x>" not in page and chart_of(page)["title"] == "<x>"
    assert "/static/dashboard/vendor/uplot/uPlot.iife.min.js" in page
    assert "/static/dashboard/charts.js" in page
    assert "http" not in page  # no CDN


def test_the_charting_library_ships_with_its_licence():
    vendor = STATIC / "vendor" / "uplot"
    assert (vendor / "uPlot.iife.min.js").stat().st_size > 10_000
    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert (STATIC / "charts.js").exists()
