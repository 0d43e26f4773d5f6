"""(d) for the CSMS: send one CSMS-initiated call to many connected stations at once.

Runs in its own process, over the Redis channel layer, exactly as the API or the admin of
another replica would (`commands.services.command_send_async`). Prints JSON timings.

DATABASE_URL=... REDIS_URL=... python benchmarks/fanout.py --identities-file ids.txt \
    --action GetConfiguration --payload '{}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")


async def fan_out(
    identities: list[str], action: str, payload: dict, timeout: float, concurrency: int
) -> dict:
    from commands.services import StationNotConnected, command_send_async

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    # As an API server would: a bounded number of calls in flight (each holds a Redis
    # connection of the pool while it sends).
    semaphore = asyncio.Semaphore(concurrency)

    async def one(identity: str) -> None:
        started = time.perf_counter()
        try:
            async with semaphore:
                outcome = await command_send_async(
                    identity=identity,
                    action=action,
                    payload=payload,
                    origin="benchmark",
                    timeout=timeout,
                )
        except StationNotConnected:
            status = "not_connected"
        else:
            status = outcome.status
            if outcome.ok:
                latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(identity) for identity in identities))
    return {
        "stations": len(identities),
        "completed": len(latencies),
        "statuses": statuses,
        "elapsed": time.perf_counter() - started,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities-file", required=True)
    parser.add_argument("--action", default="GetConfiguration")
    parser.add_argument("--payload", default="{}")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=100, help="Calls in flight at once.")
    args = parser.parse_args()

    import django

    django.setup()
    identities = Path(args.identities_file).read_text().split()
    result = asyncio.run(
        fan_out(identities, args.action, json.loads(args.payload), args.timeout, args.concurrency)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
