"""The benchmark report takes each ratio to the floor within one round."""

from __future__ import annotations

from benchmarks import report


def _round(floor_mix: float, csms_mix: float) -> dict:
    return {"floor": {"mix": {"msg_per_s": floor_mix}}, "pg-log": {"mix": {"msg_per_s": csms_mix}}}


def test_rounds_give_each_round_its_own_floor_and_the_median():
    rounds = [_round(5000, 3000), _round(4000, 3200), _round(6000, 3300)]

    lines = report.render_rounds(rounds)

    # 60%, 80%, 55%: a ratio across rounds (3300 / 5000) would read 66%.
    assert "| mix HB+Status: msg/s | 60%, 80%, 55% (60%) |" in lines


def test_a_single_round_report_has_no_round_table():
    text = report.render(
        {
            "started": "2026-11-26T00:00:00+00:00",
            "machine": {"nproc": 2, "cpu": "x", "memory_gib": 1, "python": "3.11"},
            "results": _round(5000, 3000),
        }
    )

    assert "| mix HB+Status: msg/s | 5000 | 3000 (60% of floor) |" in text
    assert "same round" not in text
