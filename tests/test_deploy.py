"""The production compose file and proxy configuration say what the scaling model needs."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_replicas_on_postgres_and_redis_behind_the_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "csms", "proxy"} <= set(services)
    csms = services["csms"]
    assert csms["deploy"]["replicas"] >= 2
    assert csms["environment"]["DATABASE_URL"].startswith("postgres://")
    assert csms["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert csms["command"][:3] == ["python", "manage.py", "serve"]
    assert csms["ulimits"]["nofile"]["soft"] >= 10000
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]


def test_proxy_passes_websocket_upgrades_to_the_replicas():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "proxy_http_version 1.1;" in conf
    assert "server csms:8000" in conf
    directives = [line.split("#")[0].strip() for line in conf.splitlines()]
    # No session affinity: any replica serves any station.
    assert not any(d.startswith(("ip_hash", "hash ", "sticky")) for d in directives)
