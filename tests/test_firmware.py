"""Firmware updates, publication, diagnostics and log uploads end to end: the station is the
`ocpp` package's ChargePoint, its HTTP side an httpx client against the live server. Files
go to a local folder, and to S3 through a moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from firmware import services
from firmware.models import FirmwarePublication, FirmwareUpdate, LogRequest
from ocpp_router.datetimes import utcnow
from stations.models import ChargingStation
from tests.live import connect

IMAGE = b"\x7fELF firmware image " + bytes(range(256)) * 64
LOG = b"2026-11-25T10:00:00Z boot ok\n" * 1000


def db(func, *args, **kwargs):
    return sync_to_async(func)(*args, **kwargs)


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


@pytest.fixture
def s3_storage(settings):
    """django-storages' S3 backend against a moto S3 server on 127.0.0.1."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket="csms-files")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "csms-files",
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "location": "csms",
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    yield client
    server.stop()


@pytest.fixture
def gcs_storage(settings, monkeypatch):
    """django-storages' Google Cloud Storage backend against gcp-storage-emulator on
    127.0.0.1 (google-cloud-storage honours STORAGE_EMULATOR_HOST)."""
    emulator = pytest.importorskip("gcp_storage_emulator.server")
    credentials = pytest.importorskip("google.auth.credentials")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = emulator.create_server("127.0.0.1", port, in_memory=True, default_bucket="csms-gcs")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": "csms-gcs",
                "project_id": "csms-test",
                "credentials": credentials.AnonymousCredentials(),
                "location": "csms",
                "file_overwrite": False,
            },
        },
    }
    yield server
    server.stop()


def make_firmware(**extra):
    return services.firmware_file_create(
        name="AC-22", version="2.0.0", upload=ContentFile(IMAGE, name="ac22-2.0.0.bin"), **extra
    )


class FirmwareStation(ChargePoint201):
    location = ""

    @on("UpdateFirmware")
    async def on_update_firmware(self, request_id, firmware, **kwargs):
        self.location = firmware["location"]
        self.request_id = request_id
        return result201.UpdateFirmware(status="Accepted")

    @on("GetLog")
    async def on_get_log(self, log_type, request_id, log, **kwargs):
        self.location = log["remote_location"]
        self.request_id = request_id
        return result201.GetLog(status="Accepted", filename="station.log")

    @on("PublishFirmware")
    async def on_publish(self, location, checksum, request_id, **kwargs):
        self.location = location
        self.checksum = checksum
        return result201.PublishFirmware(status="Accepted")

    @on("UnpublishFirmware")
    async def on_unpublish(self, checksum, **kwargs):
        return result201.UnpublishFirmware(status="Unpublished")


async def update_firmware_flow(csms, identity: str) -> FirmwareUpdate:
    firmware = await db(make_firmware)
    async with connect(csms, identity, "2.0.1", charge_point_class=FirmwareStation) as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
            )
        )
        station = await db(ChargingStation.objects.get, identity=identity)
        prepared = await db(
            services.firmware_update_prepare,
            station_pk=station.pk,
            version="2.0.1",
            firmware_pk=firmware.pk,
            base_url=csms.http_url,
        )
        outcome = await csms.call(identity, prepared.action, prepared.payload)
        assert outcome.response == {"status": "Accepted"}
        assert cp.location.startswith(csms.http_url + "/files/firmware/")

        async with httpx.AsyncClient() as http:
            response = await http.get(cp.location)
        assert response.status_code == 200
        assert response.content == IMAGE
        assert hashlib.sha256(response.content).hexdigest() == firmware.sha256

        for status in ("Downloading", "Downloaded", "Installing", "Installed"):
            await cp.call(
                call201.FirmwareStatusNotification(status=status, request_id=cp.request_id)
            )
    return await db(FirmwareUpdate.objects.get, pk=prepared.record.pk)


async def test_l01_firmware_fetched_from_our_url_and_status_tracked(csms, local_storage):
    update = await update_firmware_flow(csms, "FW-201")
    assert update.response_status == "Accepted"
    assert update.status == "Installed"
    assert [h["status"] for h in update.history] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert list(local_storage.rglob("*.bin"))


async def test_firmware_link_expired_or_forged_is_refused(csms, local_storage):
    firmware = await db(make_firmware)
    expired = await db(
        services.firmware_download_link,
        firmware=firmware,
        valid_until=utcnow() - timedelta(seconds=1),
        base_url=csms.http_url,
    )
    valid = await db(services.firmware_download_link, firmware=firmware, base_url=csms.http_url)
    token = valid.split("/files/firmware/")[1].split("/")[0]
    forged = valid.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    async with httpx.AsyncClient() as http:
        assert (await http.get(expired)).status_code == 403
        assert (await http.get(forged)).status_code == 403
        assert (await http.get(valid)).status_code == 200


class FirmwareStation16(ChargePoint16):
    @on("UpdateFirmware")
    async def on_update_firmware(self, location, retrieve_date, **kwargs):
        self.location = location
        return result16.UpdateFirmware()

    @on("SignedUpdateFirmware")
    async def on_signed(self, request_id, firmware, **kwargs):
        self.signed = firmware
        return result16.SignedUpdateFirmware(status="Accepted")

    @on("GetDiagnostics")
    async def on_get_diagnostics(self, location, **kwargs):
        self.location = location
        return result16.GetDiagnostics(file_name="diag.zip")


async def test_16_update_and_signed_update_firmware_tracked(csms, local_storage):
    identity = "FW-16"
    firmware = await db(
        make_firmware, signing_certificate="-----BEGIN CERTIFICATE-----", signature="c2ln"
    )
    async with connect(csms, identity, "1.6", charge_point_class=FirmwareStation16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"))
        station = await db(ChargingStation.objects.get, identity=identity)
        plain = await db(
            services.firmware_update_prepare,
            station_pk=station.pk,
            version="1.6",
            firmware_pk=firmware.pk,
            retries=3,
            base_url=csms.http_url,
        )
        assert plain.action == "UpdateFirmware"
        assert (await csms.call(identity, plain.action, plain.payload)).ok
        async with httpx.AsyncClient() as http:
            assert (await http.get(cp.location)).content == IMAGE
        await cp.call(call16.FirmwareStatusNotification(status="Downloaded"))
        await cp.call(call16.FirmwareStatusNotification(status="InstallationFailed"))

        signed = await db(
            services.firmware_update_prepare,
            station_pk=station.pk,
            version="1.6",
            firmware_pk=firmware.pk,
            signed=True,
            base_url=csms.http_url,
        )
        assert signed.action == "SignedUpdateFirmware"
        assert (await csms.call(identity, signed.action, signed.payload)).ok
        assert cp.signed["signature"] == "c2ln"
        await cp.call(
            call16.SignedFirmwareStatusNotification(
                status="InvalidSignature", request_id=signed.payload["requestId"]
            )
        )

    plain_update = await db(FirmwareUpdate.objects.get, pk=plain.record.pk)
    assert (plain_update.response_status, plain_update.status) == (
        "Accepted",
        "InstallationFailed",
    )
    signed_update = await db(FirmwareUpdate.objects.get, pk=signed.record.pk)
    assert (signed_update.kind, signed_update.response_status, signed_update.status) == (
        "SignedUpdateFirmware",
        "Accepted",
        "InvalidSignature",
    )


async def test_l03_publish_and_unpublish_firmware_tracked(csms, local_storage):
    identity = "LC-1"
    firmware = await db(make_firmware)
    async with connect(csms, identity, "2.0.1", charge_point_class=FirmwareStation) as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "LC"}, reason="PowerUp"
            )
        )
        station = await db(ChargingStation.objects.get, identity=identity)
        prepared = await db(
            services.firmware_publish_prepare,
            station_pk=station.pk,
            firmware_pk=firmware.pk,
            base_url=csms.http_url,
        )
        assert (await csms.call(identity, prepared.action, prepared.payload)).ok
        assert cp.checksum == hashlib.md5(IMAGE, usedforsecurity=False).hexdigest()
        async with httpx.AsyncClient() as http:
            assert (await http.get(cp.location)).content == IMAGE
        await cp.call(
            call201.PublishFirmwareStatusNotification(
                status="Published",
                location=["http://lc.local/fw.bin"],
                request_id=prepared.payload["requestId"],
            )
        )
        assert (await csms.call(identity, "UnpublishFirmware", {"checksum": cp.checksum})).ok
    publication = await db(FirmwarePublication.objects.get, pk=prepared.record.pk)
    assert publication.response_status == "Accepted"
    assert publication.status == "Published"
    assert publication.published_locations == ["http://lc.local/fw.bin"]
    assert publication.unpublished_status == "Unpublished"


async def get_log_flow(csms, identity: str) -> LogRequest:
    async with connect(csms, identity, "2.0.1", charge_point_class=FirmwareStation) as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
            )
        )
        station = await db(ChargingStation.objects.get, identity=identity)
        prepared = await db(
            services.log_request_prepare,
            station_pk=station.pk,
            version="2.0.1",
            log_type="SecurityLog",
            base_url=csms.http_url,
        )
        outcome = await csms.call(identity, prepared.action, prepared.payload)
        assert outcome.response == {"status": "Accepted", "filename": "station.log"}
        await cp.call(call201.LogStatusNotification(status="Uploading", request_id=cp.request_id))
        async with httpx.AsyncClient() as http:
            response = await http.post(
                cp.location, files={"file": ("station.log", LOG, "text/plain")}
            )
        assert response.status_code == 201, response.text
        await cp.call(call201.LogStatusNotification(status="Uploaded", request_id=cp.request_id))
    return await db(LogRequest.objects.get, pk=prepared.record.pk)


async def test_n01_log_uploaded_to_our_endpoint_lands_in_storage(csms, local_storage):
    log = await get_log_flow(csms, "LOG-201")
    assert (log.kind, log.log_type, log.response_status, log.filename) == (
        "GetLog",
        "SecurityLog",
        "Accepted",
        "station.log",
    )
    assert log.status == "Uploaded"
    assert [h["status"] for h in log.history] == ["Uploading", "Uploaded"]
    assert log.file_size == len(LOG)
    stored = local_storage / log.file.name
    assert stored.read_bytes() == LOG


async def test_16_get_diagnostics_upload_by_put_and_status(csms, local_storage):
    identity = "DIAG-16"
    async with connect(csms, identity, "1.6", charge_point_class=FirmwareStation16) as cp:
        await cp.call(call16.BootNotification(charge_point_vendor="Acme", charge_point_model="X"))
        station = await db(ChargingStation.objects.get, identity=identity)
        prepared = await db(
            services.log_request_prepare,
            station_pk=station.pk,
            version="1.6",
            kind="GetDiagnostics",
            base_url=csms.http_url,
        )
        assert (await csms.call(identity, prepared.action, prepared.payload)).ok
        async with httpx.AsyncClient() as http:
            # The station appends its file name to the location, as it would on FTP.
            response = await http.put(cp.location + "diag.zip", content=LOG)
        assert response.status_code == 201
        await cp.call(call16.DiagnosticsStatusNotification(status="Uploaded"))
    log = await db(LogRequest.objects.get, pk=prepared.record.pk)
    assert (log.response_status, log.filename, log.status) == ("Accepted", "diag.zip", "Uploaded")
    assert log.file.name.endswith("diag.zip")
    assert await db(lambda: log.file.open("rb").read()) == LOG


async def test_log_upload_with_expired_or_forged_token_is_refused(csms, local_storage, settings):
    station = await db(ChargingStation.objects.create, identity="LOG-X")
    settings.CSMS_LOG_UPLOAD_TTL = -1
    prepared = await db(
        services.log_request_prepare, station_pk=station.pk, version="2.0.1", base_url=csms.http_url
    )
    location = prepared.payload["log"]["remoteLocation"]
    async with httpx.AsyncClient() as http:
        expired = await http.put(location + "x.log", content=b"data")
        forged = await http.put(csms.http_url + "/files/logs/abc:def/x.log", content=b"data")
    assert (expired.status_code, forged.status_code) == (403, 403)
    log = await db(LogRequest.objects.get, pk=prepared.record.pk)
    assert not log.file


async def test_uploaded_log_downloadable_from_the_admin(
    csms, local_storage, admin_user, async_client
):
    log = await get_log_flow(csms, "LOG-ADMIN")
    await async_client.aforce_login(admin_user)
    page = await async_client.get(f"/admin/firmware/logrequest/{log.pk}/change/")
    assert f"/files/admin/logs/{log.pk}/" in page.content.decode()
    response = await async_client.get(f"/files/admin/logs/{log.pk}/")
    assert response.status_code == 200
    assert b"".join([chunk async for chunk in response.streaming_content]) == LOG
    anonymous = await csms_get(csms, f"/files/admin/logs/{log.pk}/")
    assert anonymous.status_code == 302  # to the admin login


async def csms_get(csms, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(csms.http_url + path)


async def test_s3_storage_serves_firmware_and_keeps_uploaded_logs(csms, s3_storage):
    update = await update_firmware_flow(csms, "FW-S3")
    assert update.status == "Installed"
    log = await get_log_flow(csms, "LOG-S3")
    assert await db(default_storage.exists, log.file.name)
    keys = [item["Key"] for item in s3_storage.list_objects_v2(Bucket="csms-files")["Contents"]]
    assert f"csms/{log.file.name}" in keys
    body = s3_storage.get_object(Bucket="csms-files", Key=f"csms/{log.file.name}")["Body"].read()
    assert body == LOG
    firmware_name = await db(lambda: update.firmware.file.name)
    assert f"csms/{firmware_name}" in keys


@sync_to_async
def api_token(*codenames: str) -> str:
    from django.contrib.auth.models import Permission, User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_user(f"ops-{len(codenames)}-{codenames[0]}")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return Token.objects.create(user=user).key


async def test_data_api_uploads_firmware_and_sends_update_and_log_request(
    csms, local_storage, settings
):
    settings.CSMS_PUBLIC_URL = csms.http_url
    token = await api_token(
        "add_firmwarefile", "add_firmwareupdate", "add_logrequest", "view_logrequest"
    )
    headers = {"Authorization": f"Token {token}"}
    async with (
        connect(csms, "API-FW", "2.0.1", charge_point_class=FirmwareStation) as cp,
        httpx.AsyncClient(base_url=csms.http_url, headers=headers, timeout=20) as http,
    ):
        await cp.call(
            call201.BootNotification(
                charging_station={"vendor_name": "Acme", "model": "AC-22"}, reason="PowerUp"
            )
        )
        uploaded = await http.post(
            "/api/firmware/files/",
            data={"name": "AC-22", "version": "3.0"},
            files={"file": ("ac22.bin", IMAGE, "application/octet-stream")},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["sha256"] == hashlib.sha256(IMAGE).hexdigest()

        sent = await http.post(
            "/api/firmware/updates/",
            json={"station_id": "API-FW", "firmware": uploaded.json()["id"], "retries": 2},
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["outcome"]["response"] == {"status": "Accepted"}
        assert sent.json()["response_status"] == "Accepted"
        assert (await http.get(cp.location)).content == IMAGE

        asked = await http.post(
            "/api/log-requests/", json={"station_id": "API-FW", "log_type": "DiagnosticsLog"}
        )
        assert asked.status_code == 201, asked.text
        assert cp.location.startswith(csms.http_url + "/files/logs/")

        offline = await http.post(
            "/api/log-requests/", json={"station_id": "NOT-THERE", "log_type": "DiagnosticsLog"}
        )
        assert offline.status_code == 409
        listed = await http.get("/api/log-requests/", params={"station_id": "API-FW"})
        assert [row["request_id"] for row in listed.json()["results"]] == [
            asked.json()["request_id"]
        ]


async def test_gcs_storage_serves_firmware_and_keeps_uploaded_logs(csms, gcs_storage):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    update = await update_firmware_flow(csms, "FW-GCS")
    assert update.status == "Installed"
    log = await get_log_flow(csms, "LOG-GCS")

    @sync_to_async
    def objects():
        client = gcs.Client(project="csms-test", credentials=AnonymousCredentials())
        bucket = client.bucket("csms-gcs")
        names = {blob.name for blob in client.list_blobs("csms-gcs")}
        return names, bucket.blob(f"csms/{log.file.name}").download_as_bytes()

    names, body = await objects()
    assert body == LOG
    firmware_name = await db(lambda: update.firmware.file.name)
    assert f"csms/{firmware_name}" in names
