"""A 1.6 StartTransaction's event carries the start's business key (its transaction's
dedup_key), so that a repeated start conflicts on the event as every other message does."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    TransactionEvent = apps.get_model("transactions", "TransactionEvent")
    Transaction = apps.get_model("transactions", "Transaction")
    TransactionEvent.objects.filter(kind="Start", dedup_key="", transaction__isnull=False).update(
        dedup_key=Subquery(
            Transaction.objects.filter(pk=OuterRef("transaction_id")).values("dedup_key")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0005_tariff_definition"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
