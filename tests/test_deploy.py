"""The production compose file and proxy configuration say what the scaling model needs."""

from __future__ import annotations

import asyncio
import sys
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


def _ignored(pattern_file: Path) -> list[str]:
    return [
        line.strip()
        for line in pattern_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def test_image_leaves_out_the_virtualenv_databases_and_history():
    ignored = _ignored(ROOT / ".dockerignore")
    for needed in (".git", ".venv", "db.sqlite3*", ".test-db.sqlite3*", "media/", ".env"):
        assert needed in ignored, needed


def test_image_checks_readiness_and_replicas_share_media():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "deploy/healthcheck.py" in dockerfile
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "media:/data/media" in services["csms"]["volumes"]
    assert "media" in compose["volumes"]
    assert services["proxy"]["depends_on"]["csms"]["condition"] == "service_healthy"


def test_proxy_re_resolves_the_replicas_and_keeps_metrics_internal():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    directives = [line.split("#")[0].strip() for line in conf.splitlines()]
    assert "server csms:8000 resolve max_fails=0;" in directives
    assert any(d.startswith("zone csms ") for d in directives)
    assert any(d.startswith("resolver 127.0.0.11") for d in directives)
    assert "location = /metrics {" in directives


async def test_healthcheck_exits_0_when_ready_and_1_naming_the_problem(csms):
    async def check(path: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "deploy" / "healthcheck.py"),
            "--url",
            f"{csms.http_url}{path}",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    code, out = await check("/ready")
    assert code == 0, out
    code, out = await check("/no-such-page")
    assert code == 1
    assert "HTTP 404" in out
