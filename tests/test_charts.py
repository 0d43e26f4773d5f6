"""The server-side SVG chart of power and energy over time."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from django.template import Context, Template

from dashboard.charts import nice_ticks, power_energy_chart, power_energy_chart_html

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def session(minutes: int = 60):
    power = [
        (START + timedelta(minutes=m), 7400.0 if m < 50 else 1200.0) for m in range(0, minutes, 5)
    ]
    energy = [(START + timedelta(minutes=m), 7400.0 * m / 60) for m in range(0, minutes, 5)]
    return power, energy


def texts(root: ET.Element) -> list[str]:
    return [node.text or "" for node in root.iter(f"{SVG}text")]


def test_chart_is_well_formed_svg_with_two_panels_and_titles():
    power, energy = session()
    svg = power_energy_chart(power, energy, title="Session 42")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    panels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]
    assert [p.get("data-series") for p in panels] == ["Power", "Energy"]
    labels = texts(root)
    assert "Session 42" in labels
    # Watts above 1000 are shown in kW, watt-hours in kWh.
    assert "Power (kW)" in labels
    assert "Energy (kWh)" in labels


def test_every_point_is_drawn_with_its_value_in_a_tooltip():
    power, energy = session()
    root = ET.fromstring(power_energy_chart(power, energy))
    circles = list(root.iter(f"{SVG}circle"))
    assert len(circles) == len(power) + len(energy)
    tips = [c.find(f"{SVG}title").text for c in circles]
    assert "2026-11-25 10:00:00 UTC: 7.4 kW" in tips
    assert any(tip.endswith("6.78 kWh") for tip in tips)  # 7400 Wh * 55 / 60


def test_every_point_lies_inside_its_plot_area():
    power = [(START + timedelta(minutes=m), 11000.0) for m in range(0, 60, 5)]
    root = ET.fromstring(power_energy_chart(power, []))
    plot = next(r for r in root.iter(f"{SVG}rect"))
    top = float(plot.get("y"))
    bottom = top + float(plot.get("height"))
    for circle in root.iter(f"{SVG}circle"):
        assert top <= float(circle.get("cy")) <= bottom


def test_time_axis_labels_cover_the_session_and_y_axis_reaches_the_peak():
    power, energy = session()
    root = ET.fromstring(power_energy_chart(power, energy))
    labels = texts(root)
    times = [t for t in labels if re.fullmatch(r"\d\d:\d\d", t)]
    assert "10:00" in times and "10:50" in times
    numbers = [float(t) for t in labels if re.fullmatch(r"-?\d+(\.\d+)?", t)]
    assert max(numbers) >= 7.4


def test_power_is_drawn_as_steps_and_points_are_sorted_by_time():
    power = [(START + timedelta(minutes=10), 2000.0), (START, 1000.0)]
    energy = [(START, 0.0), (START + timedelta(minutes=10), 250.0)]
    root = ET.fromstring(power_energy_chart(power, energy))
    lines = list(root.iter(f"{SVG}polyline"))
    power_points = lines[0].get("points").split()
    energy_points = lines[1].get("points").split()
    # A step: two points for the first sample's hold, one per sample after it.
    assert len(power_points) == 3
    assert len(energy_points) == 2
    assert float(power_points[0].split(",")[0]) < float(power_points[-1].split(",")[0])


def test_small_values_keep_their_base_unit_and_text_is_escaped():
    power = [(START, 300.0), (START + timedelta(minutes=1), 500.0)]
    root = ET.fromstring(power_energy_chart(power, [], title="<Bay & 1>"))
    labels = texts(root)
    assert "Power (W)" in labels
    assert "<Bay & 1>" in labels
    assert "no values" in labels  # the empty energy panel says so


def test_no_points_at_all_gives_a_message_not_an_error():
    root = ET.fromstring(power_energy_chart([], []))
    assert "No meter values" in texts(root)


def test_a_multi_day_session_labels_dates():
    power = [(START, 1000.0), (START + timedelta(days=2), 1000.0)]
    root = ET.fromstring(power_energy_chart(power, []))
    assert any(re.fullmatch(r"\d\d \w{3} \d\d:\d\d", t) for t in texts(root))


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0, 7.4) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 100) == [0, 25, 50, 75, 100]
    assert nice_ticks(0, 11) == [0, 5, 10, 15]
    ticks = nice_ticks(3, 3)
    assert ticks[0] <= 3 <= ticks[-1]


def test_safe_variant_embeds_unescaped_in_a_template():
    power, energy = session()
    html = Template("<div>{{ chart }}</div>").render(
        Context({"chart": power_energy_chart_html(power, energy, title="<x>")})
    )
    assert html.startswith("<div><svg ")
    assert "&lt;x&gt;" in html and "<x>" not in html
