"""Security cases of the HTTP layer, one test per case found by an outside probe, against the
live server or through Django's test client."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient


@pytest.mark.parametrize(
    "url",
    [
        "/api/stations/%00/",
        "/api/stations/?station_id__in=%00",
        "/api/transactions/?station_id=ab%00cd",
        "/api/stations/?search=%00",
    ],
)
async def test_nul_byte_in_a_station_id_or_a_filter_is_400_not_500(api, url):
    answer = await api.get(url)
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["detail"]
    # The same lists without the NUL byte are served.
    assert (await api.get(url.replace("%00", "x"))).status_code in (200, 404)


async def test_nul_byte_in_an_admin_search_is_400_not_500(csms, api):
    answer = await api.get("/admin/stations/chargingstation/?q=%00")
    assert answer.status_code == 400
    assert "NUL" in answer.text


# --- Content-Security-Policy -------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = [part.strip().split() for part in header.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def test_admin_pages_carry_a_content_security_policy_without_inline_scripts(db):
    client = Client()
    policy = _policy(client.get("/admin/login/"))
    assert policy["script-src"][0] == "'self'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    # The overview's inline script runs by the response's nonce, and only by it.
    client.force_login(User.objects.create(username="csp", is_staff=True, is_superuser=True))
    for page in ("/admin/", "/dashboard/"):
        answer = client.get(page)
        nonces = [s for s in _policy(answer)["script-src"] if s.startswith("'nonce-")]
        assert len(nonces) == 1, page
        nonce = nonces[0][len("'nonce-") : -1]
        html = answer.content.decode()
        assert html.count("<script>") == 0, page
        assert f'<script nonce="{nonce}">' in html, page
    # Swagger UI loads its script as a file: no inline script there either.
    docs = client.get("/docs").content.decode()
    assert "<script>" not in docs


# --- /api/schema/ -----------------------------------------------------------------------------


async def test_api_schema_is_generated_once_per_process_even_under_concurrent_requests(
    csms, monkeypatch
):
    from drf_spectacular.generators import SchemaGenerator

    from csms.api import schema

    generated = []
    original = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        generated.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    schema._schemas.clear()  # as just after a start
    async with httpx.AsyncClient(base_url=csms.http_url, timeout=120) as client:
        answers = await asyncio.gather(
            *(client.get("/api/schema/", headers={"Accept": "application/json"}) for _ in range(8))
        )
        assert [a.status_code for a in answers] == [200] * 8
        assert len({a.content for a in answers}) == 1
        again = await client.get("/api/schema/", headers={"Accept": "application/json"})
        yaml = await client.get("/api/schema/")
    assert again.content == answers[0].content
    assert yaml.status_code == 200 and yaml.text.startswith("openapi:")
    # One generation per format, whatever the number of requests.
    assert len(generated) == 2


def test_api_schema_requires_authentication_when_the_operator_says_so(settings, viewer_api):
    anonymous = APIClient()
    settings.CSMS_API_SCHEMA_AUTH = False
    assert anonymous.get("/api/schema/").status_code == 200
    assert anonymous.get("/docs").status_code == 200
    settings.CSMS_API_SCHEMA_AUTH = True
    assert anonymous.get("/api/schema/").status_code == 401
    assert anonymous.get("/docs").status_code == 401
    # A Viewers token (or an admin login) reads it.
    assert viewer_api.get("/api/schema/").status_code == 200
    assert viewer_api.get("/docs").status_code == 200
