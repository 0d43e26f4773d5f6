"""Log lines that name the station and the message they are about.

The consumer sets `STATION_ID` for the life of a connection and `MESSAGE_ID` while a frame
is handled (ocpp_router.consumers); the handler threads run in a copy of that context
(ocpp_router.dispatch). `ContextFilter` puts both on every record where they are known, so
that each line of a station's work can be found by station id or message id.

CSMS_LOG_FORMAT=json writes one JSON object per line (python-json-logger): time, level,
logger, message, and station_id / message_id where known, for log shippers; the default
`plain` format appends them to the line as `[station=... message=...]`.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

STATION_ID: ContextVar[str] = ContextVar("csms_station_id", default="")
MESSAGE_ID: ContextVar[str] = ContextVar("csms_message_id", default="")


class ContextFilter(logging.Filter):
    """Adds `station_id` and `message_id` to records made where they are known."""

    def filter(self, record: logging.LogRecord) -> bool:
        station_id = STATION_ID.get()
        if station_id and not hasattr(record, "station_id"):
            record.station_id = station_id
        message_id = MESSAGE_ID.get()
        if message_id and not hasattr(record, "message_id"):
            record.message_id = message_id
        return True


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger message`, then `[station=... message=...]` where known."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        station_id = getattr(record, "station_id", "")
        message_id = getattr(record, "message_id", "")
        if station_id or message_id:
            parts = [f"station={station_id}"] if station_id else []
            if message_id:
                parts.append(f"message={message_id}")
            line += f" [{' '.join(parts)}]"
        return line


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message and any extra fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
