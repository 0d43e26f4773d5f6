"""Time of one allocation of a site's capacity (`smartcharging.allocation.allocate`), no server.

A site of `--sessions` active sessions (default 1,000) under a site limit and `--groups`
group limits (feeders, car parks), minimums of 6 A, maximums of 16 or 32 A, a mix of one-
and three-phase sessions, priorities and weights; a third of the sessions' minimums do not
fit, so admission runs too. Prints JSON: CPU milliseconds per allocation (process time, the
best and the median of `--repeat` runs), and what the allocation granted.

    python benchmarks/allocation.py --sessions 1000 --repeat 20
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smartcharging.allocation import Limit, Session, allocate


def site(sessions: int, groups: int, seed: int = 22) -> tuple[list[Limit], list[Session]]:
    rng = random.Random(seed)
    # A site whose limit takes two thirds of the sessions at their 6 A minimum.
    limits = [Limit("site", sessions * 4.0, "A")]
    for g in range(groups):
        unit = "A" if g % 2 else "W"
        value = sessions / groups * (5.0 if unit == "A" else 5.0 * 690)
        limits.append(Limit(f"g{g}", value, unit, "site"))
    items = [
        Session(
            key=f"s{i}",
            group=f"g{i % groups}" if groups else "site",
            min_current=6.0,
            max_current=rng.choice([16.0, 32.0]),
            phases=rng.choice([1, 3, 3]),
            weight=rng.choice([0.5, 1.0, 1.0, 2.0]),
            priority=rng.choice([0, 0, 0, 1]),
            order=float(i),
            fixed=10.0 if i % 97 == 0 else None,
        )
        for i in range(sessions)
    ]
    return limits, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    limits, sessions = site(args.sessions, args.groups)
    times = []
    for _ in range(args.repeat):
        started = time.process_time()
        allocation = allocate(limits, sessions)
        times.append((time.process_time() - started) * 1000)
    granted = [g for g in allocation.grants.values() if g > 0]
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "groups": args.groups,
                "best_ms": round(min(times), 2),
                "median_ms": round(statistics.median(times), 2),
                "granted_sessions": len(granted),
                "site_load_a": round(allocation.load["site"], 1),
                "site_limit_a": limits[0].limit,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
