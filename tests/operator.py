"""Helpers for tests that drive the admin and the dashboard over HTTP against the live server.

The admin's command views wait on the channel layer: with the in-memory layer they work only
inside the live server (where the station's consumer lives), so these tests speak HTTP to it
with a logged-in session cookie instead of using Django's test client.
"""

from __future__ import annotations

import re

import httpx
from asgiref.sync import sync_to_async

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@sync_to_async
def staff_session(username: str = "operator", password: str | None = None) -> str:
    """Create a superuser and a logged-in session; return the session key."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user_model = get_user_model()
    if password is None:
        user = user_model.objects.create(username=username, is_staff=True, is_superuser=True)
    else:
        user = user_model.objects.create_superuser(username, f"{username}@example.com", password)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def http_client(server, session_key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.http_url, cookies={"sessionid": session_key}, timeout=30
    )


async def csrf_post(client: httpx.AsyncClient, url: str, data: dict, form_url: str | None = None):
    """GET the form page (for the CSRF cookie and token), then POST `data` to `url`."""
    page = await client.get(form_url or url)
    assert page.status_code == 200, (page.status_code, page.text[:500])
    token = CSRF_FIELD.search(page.text)
    assert token, "no CSRF token on the page"
    return await client.post(
        url, data={"csrfmiddlewaretoken": token.group(1), **data}, follow_redirects=True
    )


@sync_to_async
def station_pk(identity: str) -> int:
    from stations.models import ChargingStation

    return ChargingStation.objects.values_list("pk", flat=True).get(identity=identity)
