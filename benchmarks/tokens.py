"""Register the idTags of the `mix-tx` stations in the CSMS's database as Accepted tokens.

The CSMS answers an unknown idTag Invalid (1.6) or Unknown (2.x), and has no setting to
accept any tag: the benchmark registers its stations' tags, as an operator would. Prints
JSON: how many tags, and how many of them are in a transaction still active (a run stopped
half-way leaves some: their next start is answered ConcurrentTx).

DATABASE_URL=... python benchmarks/tokens.py --prefix BENCHC --count 100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csms.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from benchmarks.loadgen import id_tag, identities
    from transactions.choices import AuthorizationStatus, IdTokenType
    from transactions.models import IdToken, Transaction

    tags = [id_tag(identity) for identity in identities(args.prefix, args.count)]
    # 2.0.1 stations send them as ISO14443; 1.6 idTags match on the value alone.
    IdToken.objects.bulk_create(
        [IdToken(value=tag, type=IdTokenType.ISO14443) for tag in tags], ignore_conflicts=True
    )
    IdToken.objects.filter(value__in=tags).update(
        status=AuthorizationStatus.ACCEPTED, expiry_date=None
    )
    active = Transaction.objects.filter(id_token_value__in=tags, is_active=True).count()
    print(json.dumps({"tags": len(tags), "tags_in_active_transactions": active}))


if __name__ == "__main__":
    main()
