"""GET /metrics (server_runtime.metrics): who may read it, and what a real `serve` process (one,
or `--workers 2`) reports while `ocpp` package stations talk to it, read with
prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import contextlib
import os

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client, override_settings
from ocpp.v16 import call as call16
from prometheus_client.parser import text_string_to_metric_families

from server_runtime.tests.test_scale_out import (
    ServerProcess,
    listening_sockets,
    online_state,
    server_env,
    station_on,
)
from tests.api_helpers import make_user
from tests.live import eventually

needs_postgres_and_redis = pytest.mark.skipif(
    not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
    reason="needs REDIS_URL and DATABASE_URL: the server process shares PostgreSQL and Redis",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


# --- access ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_served_to_loopback_in_prometheus_text_format() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse(response.content.decode())
    assert value(samples, "csms_database_up") == 1
    assert ("csms_webhook_backlog", frozenset({("kind", "event")})) in samples


@pytest.mark.django_db
def test_metrics_refused_to_an_address_outside_the_allowed_networks() -> None:
    response = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")
    assert response.status_code == 403
    assert b"CSMS_METRICS_ALLOWED_NETWORKS" in response.content
    with override_settings(CSMS_METRICS_ALLOWED_NETWORKS=["203.0.113.0/24"]):
        assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="::ffff:203.0.113.9").get("/metrics").status_code == 200
        assert Client().get("/metrics").status_code == 403


@pytest.mark.django_db
@override_settings(CSMS_METRICS_TOKEN="s3cret-scrape-token")
def test_metrics_token_required_when_set() -> None:
    refused = Client().get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    wrong = Client(headers={"Authorization": "Bearer nope"}).get("/metrics")
    assert wrong.status_code == 401
    right = Client(headers={"Authorization": "Bearer s3cret-scrape-token"}).get("/metrics")
    assert right.status_code == 200


@override_settings(CSMS_METRICS=False)
def test_metrics_off_answers_404() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 404
    assert b"CSMS_METRICS" in response.content


# --- a real server --------------------------------------------------------------------


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


@sync_to_async
def operator_token() -> str:
    try:
        return make_user("operator", "operator")[1]
    finally:
        connection.close()


@needs_postgres_and_redis
async def test_metrics_count_stations_messages_latency_and_commands_of_a_serve_process(
    transactional_db,
):
    env = server_env("metrics-one")
    server = ServerProcess(env)
    token = await operator_token()
    try:
        await asyncio.to_thread(server.wait_listening)
        async with (
            station_on(server.port, "METRICS-1") as (cp, _),
            station_on(server.port, "METRICS-2"),
        ):
            await cp.call(call16.Heartbeat())
            # Not an OCPP 1.6 action: answered NotImplemented, counted under one label.
            await cp._send('[2,"x1","NoSuchAction",{}]')
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}",
                headers={"Authorization": f"Token {token}"},
                timeout=30,
            ) as api:
                response = await api.post(
                    "/api/stations/METRICS-1/commands/GetConfiguration", json={}
                )
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "completed"

            async def counted() -> Samples | None:
                samples = await scrape(server.port)
                unknown = value(samples, "csms_ocpp_messages_total", action="(unknown action)")
                return samples if unknown == 1 else None

            samples = await eventually(counted, timeout=10)
            assert value(samples, "csms_stations_connected", version="1.6") == 2
            node = next(
                dict(labels)["node"]
                for name, labels in samples
                if name == "csms_stations_connected"
            )
            assert (await online_state("METRICS-1"))[1].startswith(f"specific.{node}!")
            assert (
                value(
                    samples,
                    "csms_ocpp_messages_total",
                    direction="in",
                    version="1.6",
                    action="BootNotification",
                    outcome="ok",
                )
                == 2
            )
            assert value(samples, "csms_ocpp_messages_total", action="Heartbeat") == 1
            assert (
                value(
                    samples,
                    "csms_ocpp_messages_total",
                    action="(unknown action)",
                    outcome="NotImplemented",
                )
                == 1
            )
            assert (
                value(
                    samples,
                    "csms_ocpp_messages_total",
                    direction="out",
                    action="GetConfiguration",
                    outcome="ok",
                )
                == 1
            )
            assert value(samples, "csms_ocpp_handler_seconds_count", action="BootNotification") == 2
            assert value(samples, "csms_ocpp_handler_seconds_sum", action="BootNotification") > 0
            assert (
                value(
                    samples,
                    "csms_ocpp_handler_seconds_bucket",
                    action="Heartbeat",
                    le="+Inf",
                )
                == 1
            )
            assert (
                value(samples, "csms_commands_total", action="GetConfiguration", status="completed")
                == 1
            )
            assert value(samples, "csms_ocpp_handler_queue_depth") == 0
            assert ("csms_message_log_backlog", frozenset()) in samples
            assert value(samples, "csms_webhook_backlog", kind="callback") == 0
            assert value(samples, "csms_database_up") == 1

        async def disconnected() -> bool:
            return value(await scrape(server.port), "csms_stations_connected") == 0

        await eventually(disconnected, timeout=10)
    finally:
        server.stop()


@needs_postgres_and_redis
async def test_metrics_of_serve_workers_add_up_every_worker_whichever_answers(transactional_db):
    env = server_env(os.environ.get("CSMS_CHANNEL_PREFIX", "csms"))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = ServerProcess(env, "--workers", "2")
    try:
        await asyncio.to_thread(server.wait_listening)
        await eventually(lambda: listening_sockets(server.port) == 2, timeout=30, interval=0.1)
        identities = [f"MPROC-{n}" for n in range(10)]
        async with contextlib.AsyncExitStack() as stack:
            for identity in identities:
                await stack.enter_async_context(station_on(server.port, identity))
            nodes = {(await online_state(i))[1].split("!")[0] for i in identities}
            assert len(nodes) == 2  # the kernel spread them over both workers
            # Each scrape lands on either worker; every one counts all stations and boots.
            for _ in range(6):
                samples = await scrape(server.port)
                assert value(samples, "csms_stations_connected") == 10
                per_node = {
                    dict(labels)["node"]
                    for (name, labels), v in samples.items()
                    if name == "csms_stations_connected" and v > 0
                }
                assert {f"specific.{n}" for n in per_node} == nodes
                assert value(samples, "csms_ocpp_messages_total", action="BootNotification") == 10
                assert (
                    value(samples, "csms_ocpp_handler_seconds_count", action="BootNotification")
                    == 10
                )
    finally:
        server.stop_supervisor()
