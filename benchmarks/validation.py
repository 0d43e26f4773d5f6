"""Per-call cost of OCPP schema validation (`ocpp_router.validation.check`), no server.

Times `check()` on valid Heartbeat, StatusNotification and MeterValues requests of 1.6 and
2.0.1, next to the jsonschema-only path (`best_match(validator.iter_errors(...))`, what
`check()` falls back to when the compiled fast validator rejects a payload), and prints
CPU microseconds per call (process time, steadier than wall-clock time on a shared machine;
the best of `--repeat` runs of `--number` calls).

    python benchmarks/validation.py --number 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jsonschema

from ocpp_router import validation

NOW = "2026-11-25T10:00:00.123Z"

PAYLOADS: dict[tuple[str, str], dict[str, Any]] = {
    ("1.6", "Heartbeat"): {},
    ("1.6", "StatusNotification"): {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Charging",
        "timestamp": NOW,
    },
    ("1.6", "MeterValues"): {
        "connectorId": 1,
        "transactionId": 42,
        "meterValue": [
            {
                "timestamp": NOW,
                "sampledValue": [
                    {"value": "12345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "230.2", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                ],
            }
        ],
    },
    ("2.0.1", "Heartbeat"): {},
    ("2.0.1", "StatusNotification"): {
        "timestamp": NOW,
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    },
    ("2.0.1", "MeterValues"): {
        "evseId": 1,
        "meterValue": [
            {
                "timestamp": NOW,
                "sampledValue": [
                    {"value": 12345.0, "measurand": "Energy.Active.Import.Register"},
                    {"value": 7200.0, "measurand": "Power.Active.Import"},
                    {"value": 16.1, "measurand": "Current.Import", "phase": "L1"},
                    {"value": 230.2, "measurand": "Voltage", "phase": "L1-N"},
                ],
            }
        ],
    },
}


def jsonschema_only(version: str, action: str, payload: dict[str, Any]) -> None:
    """The validation `check()` did before the fast path, and still does on a rejection."""
    error = jsonschema.exceptions.best_match(
        validation.validator(version, action, "request").iter_errors(payload)
    )
    if error is not None:
        raise validation.to_ocpp_error(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=5000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best one counts")
    args = parser.parse_args()

    print(f"{'version':8} {'action':20} {'check() µs':>11} {'jsonschema µs':>14} {'ratio':>6}")
    for (version, action), payload in PAYLOADS.items():
        validation.check(version, action, "request", payload)  # compile, and prove it valid
        jsonschema_only(version, action, payload)
        fast = min(
            timeit.repeat(
                lambda: validation.check(version, action, "request", payload),  # noqa: B023
                number=args.number,
                repeat=args.repeat,
                timer=time.process_time,
            )
        )
        slow = min(
            timeit.repeat(
                lambda: jsonschema_only(version, action, payload),  # noqa: B023
                number=args.number,
                repeat=args.repeat,
                timer=time.process_time,
            )
        )
        fast_us, slow_us = fast / args.number * 1e6, slow / args.number * 1e6
        print(f"{version:8} {action:20} {fast_us:11.1f} {slow_us:14.1f} {slow_us / fast_us:6.1f}")


if __name__ == "__main__":
    main()
