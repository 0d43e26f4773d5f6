"""SetNetworkProfile (OCPP 2.0.1 B09) and the security profile upgrade (A05), over the message
API against the live server, an `ocpp` package ChargePoint as the station."""

from __future__ import annotations

import base64

import pytest
import websockets
from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from stations import passwords
from stations.models import ChargingStation
from tests.live import connect
from tests.test_ocpp_core import boot_call

PASSWORD = "Network-Profile-Password-0042"


class Station201(ChargePoint201):
    @on("SetNetworkProfile")
    async def on_set_network_profile(self, configuration_slot, connection_data, **kwargs):
        self.profile = connection_data
        return result201.SetNetworkProfile(status="Accepted")


class Station21(ChargePoint21):
    @on("SetNetworkProfile")
    async def on_set_network_profile(self, configuration_slot, connection_data, **kwargs):
        self.profile = connection_data
        return result21.SetNetworkProfile(status="Accepted")


STATIONS = {"2.0.1": Station201, "2.1": Station21}


def network_profile(csms, version: str, security_profile: int) -> dict:
    data = {
        "ocppTransport": "JSON",
        "ocppCsmsUrl": f"{csms.ws_url}/ocpp/",
        "messageTimeout": 30,
        "securityProfile": security_profile,
        "ocppInterface": "Wired0",
    }
    if version == "2.0.1":
        data["ocppVersion"] = "OCPP20"
    return {"configurationSlot": 2, "connectionData": data}


@sync_to_async
def profiles(identity: str) -> tuple[int, int | None]:
    station = ChargingStation.objects.get(identity=identity)
    return station.security_profile, station.security_profile_pending


def basic(identity: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def _boots(csms, identity: str, version: str, **kwargs) -> str:
    async with connect(csms, identity, version, **kwargs) as cp:
        return (await cp.call(boot_call(version))).status


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_b09_a05_profile_raised_only_once_the_station_reconnects_on_it(csms, api, version):
    identity = f"B09-{version}"
    await sync_to_async(ChargingStation.objects.create)(
        identity=identity, password_hash=passwords.password_hash(PASSWORD)
    )
    async with connect(csms, identity, version, charge_point_class=STATIONS[version]) as cp:
        await cp.call(boot_call(version))
        response = await api.post(
            f"/api/stations/{identity}/commands/SetNetworkProfile",
            json=network_profile(csms, version, 1),
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"] == {"status": "Accepted"}
        assert cp.profile["security_profile"] == 1
    # Accepted is a promise: the stored profile stays until the station connects on the new one.
    assert await profiles(identity) == (0, 1)
    # Back on its old profile (its priority list fell back to slot 1): still served, not raised.
    assert await _boots(csms, identity, version) == "Accepted"
    assert await profiles(identity) == (0, 1)
    # On the new profile (Basic auth): raised.
    assert await _boots(csms, identity, version, additional_headers=basic(identity)) == "Accepted"
    assert await profiles(identity) == (1, None)
    # Never lowered: without credentials it is refused from now on (A05.FR.09).
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _boots(csms, identity, version)
    assert refused.value.response.status_code == 401


async def test_b09_a05_a_lower_security_profile_is_refused_before_it_is_sent(csms, api):
    identity = "B09-LOWER"
    await sync_to_async(ChargingStation.objects.create)(
        identity=identity, security_profile=1, password_hash=passwords.password_hash(PASSWORD)
    )
    async with connect(
        csms, identity, "2.0.1", charge_point_class=Station201, additional_headers=basic(identity)
    ) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await api.post(
            f"/api/stations/{identity}/commands/SetNetworkProfile",
            json=network_profile(csms, "2.0.1", 0),
        )
        assert response.status_code == 400, response.text
        assert "never lowered" in response.text
        assert not hasattr(cp, "profile")
    assert await profiles(identity) == (1, None)


async def test_b09_network_profile_the_station_rejects_changes_nothing(csms, api):
    class Refusing(ChargePoint201):
        @on("SetNetworkProfile")
        async def on_set_network_profile(self, **kwargs):
            return result201.SetNetworkProfile(status="Rejected")

    identity = "B09-REJECT"
    await sync_to_async(ChargingStation.objects.create)(identity=identity)
    async with connect(csms, identity, "2.0.1", charge_point_class=Refusing) as cp:
        await cp.call(boot_call("2.0.1"))
        response = await api.post(
            f"/api/stations/{identity}/commands/SetNetworkProfile",
            json=network_profile(csms, "2.0.1", 2),
        )
        assert response.json()["response"] == {"status": "Rejected"}
    assert await profiles(identity) == (0, None)
