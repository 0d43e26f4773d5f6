"""The image's HEALTHCHECK: GET /ready of the CSMS in this container; exit 0 when ready.

Sends a Host header the CSMS accepts (the first of CSMS_ALLOWED_HOSTS), so that a deployment
that lists its host names is still checked. On failure it prints what /ready says is wrong
(`docker inspect` shows it under State.Health) and exits 1.

python deploy/healthcheck.py [--url http://127.0.0.1:8000/ready]
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request


def host_header() -> str | None:
    hosts = [h.strip() for h in os.environ.get("CSMS_ALLOWED_HOSTS", "*").split(",") if h.strip()]
    if not hosts or "*" in hosts:
        return None
    return hosts[0].lstrip(".")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/ready")
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args()
    request = urllib.request.Request(args.url)
    host = host_header()
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"{args.url}: HTTP {exc.code} {exc.read().decode(errors='replace')[:500]}")
    except OSError as exc:
        print(f"{args.url}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
