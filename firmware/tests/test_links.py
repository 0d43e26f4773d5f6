"""Signed links for stations."""

from __future__ import annotations

import time

import pytest

from firmware import links


def test_token_round_trip_and_salt_separation():
    token = links.make_token(links.DOWNLOAD_SALT, 7, time.time() + 60)
    assert links.read_token(links.DOWNLOAD_SALT, token) == 7
    # A download token never opens the upload endpoint.
    with pytest.raises(links.LinkRefused):
        links.read_token(links.UPLOAD_SALT, token)


def test_expired_and_tampered_tokens_are_refused():
    expired = links.make_token(links.UPLOAD_SALT, 1, time.time() - 1)
    with pytest.raises(links.LinkRefused, match="expired"):
        links.read_token(links.UPLOAD_SALT, expired)
    with pytest.raises(links.LinkRefused, match="invalid"):
        links.read_token(links.UPLOAD_SALT, "x" + expired)


def test_public_url_setting_wins_over_the_default(settings):
    settings.CSMS_PUBLIC_URL = "https://csms.example.com/"
    assert links.base_url() == "https://csms.example.com"
    assert links.base_url("http://10.0.0.1:8000") == "http://10.0.0.1:8000"
