"""CSMS_LOG_FORMAT=json (csms.logs): a real `serve` process writes one JSON object per line,
naming the station and the message on the lines about them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

import pytest

from csms.logs import MESSAGE_ID, STATION_ID, ContextFilter, JsonFormatter, PlainFormatter
from server_runtime.tests.test_scale_out import ServerProcess, server_env, station_on


def _record(message: str) -> logging.LogRecord:
    record = logging.LogRecord("csms.test", logging.WARNING, __file__, 1, message, (), None)
    ContextFilter().filter(record)
    return record


def test_log_lines_name_the_station_and_message_where_known() -> None:
    plain = PlainFormatter("%(levelname)s %(message)s")
    assert plain.format(_record("no station here")) == "WARNING no station here"
    station, message = STATION_ID.set("RDAM 123"), MESSAGE_ID.set("m-42")
    try:
        record = _record("slow answer")
    finally:
        MESSAGE_ID.reset(message)
        STATION_ID.reset(station)
    assert plain.format(record) == "WARNING slow answer [station=RDAM 123 message=m-42]"
    line = json.loads(JsonFormatter().format(record))
    assert line["station_id"] == "RDAM 123" and line["message_id"] == "m-42"
    assert line["level"] == "WARNING" and line["logger"] == "csms.test"
    assert line["message"] == "slow answer" and line["time"].endswith("+00:00")


@pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares PostgreSQL and Redis",
)
async def test_json_logs_of_serve_carry_station_id_and_message_id(transactional_db) -> None:
    env = {**server_env("json-logs"), "CSMS_LOG_FORMAT": "json", "CSMS_LOG_LEVEL": "INFO"}
    server = ServerProcess(env)
    try:
        await asyncio.to_thread(server.wait_listening)
        async with station_on(server.port, "JSON-1") as (cp, _):
            # An answer to a call we never made: the consumer warns, naming its id.
            await cp._send('[3,"orphan-7",{}]')
            await asyncio.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.proc.wait, 20)
        output = server.proc.stderr.read().decode()
    finally:
        server.stop()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)

    def about(text: str) -> dict:
        return next(line for line in lines if text in line["message"])

    # From the consumer (event loop) and from a handler thread (the first connection's
    # registration), the station is named.
    assert about("connected from")["station_id"] == "JSON-1"
    assert about("Registered new station")["station_id"] == "JSON-1"
    orphan = about("which no call of ours awaits")
    assert orphan["station_id"] == "JSON-1" and orphan["message_id"] == "orphan-7"
    assert orphan["level"] == "WARNING"
