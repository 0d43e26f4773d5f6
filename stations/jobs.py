"""Background jobs of the stations block (server_runtime.scheduler)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection

from ocpp_router.datetimes import utcnow
from stations.models import OcppMessage


def _delete_batch_sql() -> str:
    quote = connection.ops.quote_name
    meta = OcppMessage._meta
    table, pk = quote(meta.db_table), quote(meta.pk.column)  # type: ignore[union-attr]
    timestamp = quote(meta.get_field("timestamp").column)  # type: ignore[union-attr]
    # One indexed statement per batch: the subquery walks the (-timestamp) index from the
    # oldest row. Django's delete() would first read every row for the self foreign key.
    return (
        f"DELETE FROM {table} WHERE {pk} IN (SELECT {pk} FROM {table} "
        f"WHERE {timestamp} < %s ORDER BY {timestamp} LIMIT %s)"
    )


def message_log_retention() -> int:
    """Delete message-log rows older than CSMS_MESSAGE_LOG_RETENTION_DAYS (0: keep them), in
    batches of CSMS_MESSAGE_LOG_RETENTION_BATCH rows; how many were deleted."""
    days = settings.CSMS_MESSAGE_LOG_RETENTION_DAYS
    if days <= 0:
        return 0
    batch = max(settings.CSMS_MESSAGE_LOG_RETENTION_BATCH, 1)
    field = OcppMessage._meta.get_field("timestamp")
    cutoff = field.get_db_prep_value(  # type: ignore[union-attr]
        utcnow() - timedelta(days=days), connection
    )
    sql, deleted = _delete_batch_sql(), 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [cutoff, batch])
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted


SCHEDULE = {"message_log_retention": settings.CSMS_JOB_RETENTION_INTERVAL}
