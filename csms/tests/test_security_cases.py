"""Security cases of the HTTP layer, one test per case found by an outside probe, against the
live server."""

from __future__ import annotations

import pytest


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
