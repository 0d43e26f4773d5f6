"""Render a `run.py` JSON report as Markdown tables, each figure beside the floor's.

python benchmarks/report.py benchmarks/results/after-matrix.json [more.json ...]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any


def ratio(value: float | None, floor: float | None) -> str:
    if not value or not floor:
        return ""
    return f"{value / floor:.0%}"


def get(result: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


ROUND_FIGURES = [
    ("mix HB+Status: msg/s", ("mix", "msg_per_s")),
    ("mix +MeterValues: msg/s", ("mix-meter", "msg_per_s")),
    ("mix with transactions: msg/s", ("mix-tx", "msg_per_s")),
    ("commands: calls/s", ("commands", "calls_per_s")),
]


def render_rounds(rounds: list[dict[str, Any]]) -> list[str]:
    """Each round's ratio to the floor of the same round, and their median."""
    names = [name for name in rounds[0] if name != "floor"]
    out = ["", f"Ratio to the floor of the same round, {len(rounds)} rounds (median):", ""]
    out.append("| figure | " + " | ".join(names) + " |")
    out.append("|---" * (len(names) + 1) + "|")
    for label, path in ROUND_FIGURES:
        cells = []
        for name in names:
            ratios = []
            for results in rounds:
                value = get(results.get(name, {}), *path)
                floor = get(results.get("floor", {}), *path)
                if value and floor:
                    ratios.append(value / floor)
            if ratios:
                listed = ", ".join(f"{r:.0%}" for r in ratios)
                cells.append(f"{listed} ({statistics.median(ratios):.0%})")
            else:
                cells.append("")
        if any(cells):
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def render(report: dict[str, Any]) -> str:
    results = report["results"]
    floor = results.get("floor", {})
    out = []
    m = report["machine"]
    out.append(
        f"Run {report['started']} on {m['nproc']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}."
    )
    out.append("")
    rows = [
        ("storm: stations", ("storm", "stations"), False),
        ("storm: booted", ("storm", "ready"), False),
        ("storm: lost for good", ("storm", "lost_for_good"), False),
        ("storm: s until all booted", ("storm", "seconds_all_ready"), False),
        ("storm: retries", ("storm", "retries"), False),
        ("mix HB+Status: msg/s", ("mix", "msg_per_s"), True),
        ("mix HB+Status: p50 ms", ("mix", "p50_ms"), False),
        ("mix HB+Status: p99 ms", ("mix", "p99_ms"), False),
        ("mix +MeterValues: msg/s", ("mix-meter", "msg_per_s"), True),
        ("mix +MeterValues: p99 ms", ("mix-meter", "p99_ms"), False),
        ("mix with transactions: msg/s", ("mix-tx", "msg_per_s"), True),
        ("mix with transactions: p50 ms", ("mix-tx", "p50_ms"), False),
        ("mix with transactions: p99 ms", ("mix-tx", "p99_ms"), False),
        ("mix with transactions: CPU ms/msg", ("mix-tx", "server_cpu_ms_per_msg"), False),
        ("mix with transactions: sessions", ("mix-tx", "sessions_completed"), False),
        ("commands: stations answered", ("commands", "completed"), False),
        ("commands: calls/s", ("commands", "calls_per_s"), True),
        ("commands: p50 ms", ("commands", "p50_ms"), False),
        ("commands: p99 ms", ("commands", "p99_ms"), False),
        ("idle: connected", ("idle", "connect", "ready"), False),
        ("idle: still open after hold", ("idle", "still_open"), False),
        ("idle: KiB per connection", ("idle", "kib_per_connection"), False),
        ("realistic: target msg/s", ("idle", "realistic", "target_msg_per_s"), False),
        ("realistic: answered msg/s", ("idle", "realistic", "msg_per_s"), True),
        ("realistic: p50 ms", ("idle", "realistic", "p50_ms"), False),
        ("realistic: p99 ms", ("idle", "realistic", "p99_ms"), False),
        ("realistic: still open", ("idle", "realistic", "still_open"), False),
    ]
    names = list(results)
    header = "| figure | " + " | ".join(names) + " |"
    out.append(header)
    out.append("|---" * (len(names) + 1) + "|")
    for label, path, with_ratio in rows:
        values = [get(results[name], *path) for name in names]
        if all(v is None for v in values):
            continue
        cells = []
        floor_value = get(floor, *path)
        for name, value in zip(names, values, strict=True):
            cell = "" if value is None else str(value)
            if with_ratio and name != "floor" and value is not None:
                cell += f" ({ratio(value, floor_value)} of floor)"
            cells.append(cell)
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    loads = []
    for name in names:
        for result in results[name].values():
            if isinstance(result, dict) and "load_avg_end" in result:
                loads.append(result["load_avg_end"])
    if loads:
        out.append("")
        out.append(
            f"1-minute load average at the end of each scenario: {min(loads)} to {max(loads)}."
        )
    if len(report.get("rounds", [])) > 1 and "floor" in results:
        out.append("")
        out.append("The table above is the first round.")
        out += render_rounds(report["rounds"])
    return "\n".join(out)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(render(json.loads(Path(path).read_text())))
        print()
