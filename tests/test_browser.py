"""End to end in a real headless browser (Debian's chromium with chromedriver, via Selenium):
an operator logs in, watches a station come online on the live dashboard without a reload,
and resets it from the station page."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from tests.live import connect
from tests.test_ocpp_core import boot_call, status_call

logger = logging.getLogger(__name__)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the dev extra installs it
    webdriver = None

pytestmark = [
    pytest.mark.skipif(
        webdriver is None, reason="selenium is not installed (pip install selenium)"
    ),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="no headless browser: apt-get install chromium chromium-driver",
    ),
]

PASSWORD = "operator-password-1"


class ResettableStation(ChargePoint201):
    reset_type = None

    @on("Reset")
    async def on_reset(self, type, **kwargs):
        self.reset_type = type
        return result201.Reset(status="Accepted")


def start_browser(profile: str):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # The console, where Chromium reports what the Content-Security-Policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@sync_to_async
def create_operator() -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("browser-op", "op@example.com", PASSWORD)


async def test_operator_sees_station_come_online_and_resets_it_from_the_browser(csms, settings):
    # The login form checks a real password: a fast hasher keeps the test quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    await create_operator()
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            try:
                await _scenario(csms, driver)
            except Exception:
                await asyncio.to_thread(_keep_evidence, driver)
                raise
        finally:
            await asyncio.to_thread(driver.quit)


def _keep_evidence(driver) -> None:
    """Leave the failing page's screenshot and HTML next to the test output."""
    base = Path(tempfile.gettempdir()) / "csms-browser-failure"
    driver.save_screenshot(f"{base}.png")
    Path(f"{base}.html").write_text(driver.page_source, encoding="utf-8")
    logger.error(
        "Browser test failed on %s: see %s.png and %s.html", driver.current_url, base, base
    )


async def _scenario(csms, driver) -> None:
    def wait(condition, timeout: float = 15):
        return WebDriverWait(driver, timeout).until(condition)

    def log_in() -> None:
        driver.get(f"{csms.http_url}/admin/login/?next=/dashboard/")
        driver.find_element(By.ID, "id_username").send_keys("browser-op")
        driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait(ec.url_contains("/dashboard/"))
        wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-live-state[data-state=live]")))
        # Marks this very page: it must survive every update below (no reload).
        driver.execute_script("window.csmsPageMark = 'same page';")

    await asyncio.to_thread(log_in)

    async with connect(csms, "BROWSER 1", "2.0.1", charge_point_class=ResettableStation) as cp:
        await cp.call(boot_call("2.0.1"))
        await cp.call(status_call("2.0.1", "Available"))

        def sees_station_online() -> None:
            row = '#csms-dashboard tr[data-identity="BROWSER 1"]'
            wait(ec.presence_of_element_located((By.CSS_SELECTOR, row + "[data-online=true]")))
            wait(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, row + ' [data-connector="1/1"][data-status=Available]')
                )
            )
            assert driver.execute_script("return window.csmsPageMark") == "same page"
            assert "1 online" in driver.find_element(By.ID, "csms-summary").text

        await asyncio.to_thread(sees_station_online)

        def resets_from_station_page() -> str:
            driver.find_element(By.LINK_TEXT, "BROWSER 1").click()
            wait(ec.element_to_be_clickable((By.ID, "command-Reset"))).click()
            Select(wait(ec.presence_of_element_located((By.NAME, "f__type")))).select_by_value(
                "Immediate"
            )
            driver.find_element(By.NAME, "_send").click()
            summary = wait(ec.presence_of_element_located((By.ID, "command-summary")))
            return summary.text

        summary = await asyncio.to_thread(resets_from_station_page)
        assert summary == "BROWSER 1 answered Reset: Accepted"
        assert cp.reset_type == "Immediate"

    def sees_station_offline_after_going_back() -> None:
        driver.get(f"{csms.http_url}/dashboard/")
        wait(
            ec.presence_of_element_located(
                (By.CSS_SELECTOR, '#csms-dashboard tr[data-identity="BROWSER 1"]')
            )
        )
        wait(
            ec.presence_of_element_located(
                (
                    By.CSS_SELECTOR,
                    '#csms-dashboard tr[data-identity="BROWSER 1"][data-online=false]',
                )
            )
        )

    await asyncio.to_thread(sees_station_offline_after_going_back)


def _screenshot(driver, name: str) -> None:
    """Kept in docs/ when CSMS_SCREENSHOTS names the folder: `make screenshots`."""
    import os

    folder = os.environ.get("CSMS_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


async def test_overview_landing_page_updates_live_as_a_station_boots(csms, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    await create_operator()
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            try:
                await _overview_scenario(csms, driver)
            except Exception:
                await asyncio.to_thread(_keep_evidence, driver)
                raise
        finally:
            await asyncio.to_thread(driver.quit)


async def _overview_scenario(csms, driver) -> None:
    def wait(condition, timeout: float = 15):
        return WebDriverWait(driver, timeout).until(condition)

    def figure(name: str) -> str:
        return driver.find_element(By.CSS_SELECTOR, f'[data-figure="{name}"]').text

    def log_in() -> None:
        driver.get(f"{csms.http_url}/admin/login/?next=/admin/")
        driver.find_element(By.ID, "id_username").send_keys("browser-op")
        driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-live-state[data-state=live]")))
        wait(lambda d: figure("stations.online") == "0")
        assert "CSMS · charging station management" in driver.title or driver.find_element(
            By.ID, "site-name"
        ).text.startswith("CSMS")
        driver.execute_script("window.csmsPageMark = 'same page';")

    await asyncio.to_thread(log_in)
    async with connect(csms, "OVERVIEW 1", "2.0.1") as cp:
        await cp.call(boot_call("2.0.1"))
        await cp.call(status_call("2.0.1", "Available"))

        def sees_it_online() -> None:
            wait(lambda d: figure("stations.online") == "1")
            wait(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, '#csms-connector-tiles [data-status="Available"]')
                )
            )
            tile = driver.find_element(By.CSS_SELECTOR, '[data-status="Available"] b')
            wait(
                lambda d: (
                    tile.text == "1"
                    or d.find_element(By.CSS_SELECTOR, '[data-status="Available"] b').text == "1"
                )
            )
            assert driver.execute_script("return window.csmsPageMark") == "same page"

        await asyncio.to_thread(sees_it_online)


class StartableStation(ChargePoint201):
    """Accepts every remote start, then starts the transaction as a station does
    (TransactionEvent Started with the remoteStartId and the id token)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.started_with: list[dict] = []

    @on("RequestStartTransaction")
    async def on_request_start(self, id_token, remote_start_id, **kwargs):
        self.started_with.append(id_token)
        return result201.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    async def start_transaction(self, id_token, remote_start_id, evse_id=1, **kwargs):
        await asyncio.sleep(0.5)
        await self.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=datetime.now(UTC).isoformat(),
                trigger_reason="RemoteStart",
                seq_no=0,
                transaction_info={
                    "transaction_id": f"RS-{remote_start_id}",
                    "remote_start_id": remote_start_id,
                },
                id_token=id_token,
                evse={"id": evse_id, "connector_id": 1},
            )
        )


@sync_to_async
def create_token(value: str, status: str = "Accepted") -> None:
    from transactions.models import IdToken

    IdToken.objects.create(value=value, type="ISO14443", status=status)


@sync_to_async
def station_pk(identity: str) -> int:
    from stations.models import ChargingStation

    return ChargingStation.objects.get(identity=identity).pk


async def test_remote_start_with_a_chosen_token_shows_what_the_station_then_the_csms_decided(
    csms, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    await create_operator()
    await create_token("FLEET-CARD-42")
    await create_token("BLOCKED-CARD-7", status="Blocked")
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            async with connect(csms, "START 1", "2.0.1", charge_point_class=StartableStation) as cp:
                await cp.call(boot_call("2.0.1"))
                pk = await station_pk("START 1")
                try:
                    accepted = await asyncio.to_thread(
                        _remote_start, csms, driver, pk, "FLEET-CARD-42", log_in=True
                    )
                    refused = await asyncio.to_thread(
                        _remote_start, csms, driver, pk, "BLOCKED-CARD-7"
                    )
                except Exception:
                    await asyncio.to_thread(_keep_evidence, driver)
                    raise
        finally:
            await asyncio.to_thread(driver.quit)
    assert [t["id_token"] for t in cp.started_with] == ["FLEET-CARD-42", "BLOCKED-CARD-7"]
    # The station's answer, then the CSMS's decision on the transaction it started.
    assert accepted["station"] == "START 1 answered RequestStartTransaction: Accepted"
    assert accepted["state"] == "accepted" and accepted["csms"] == "Accepted"
    assert "The CSMS accepted id token FLEET-CARD-42" in accepted["text"]
    assert refused["station"] == "START 1 answered RequestStartTransaction: Accepted"
    assert refused["state"] == "refused" and refused["csms"] == "Blocked"
    assert "The CSMS refused id token BLOCKED-CARD-7 (Blocked)" in refused["text"]


def _remote_start(csms, driver, pk: int, token_value: str, log_in: bool = False) -> dict:
    from django.urls import reverse

    def wait(condition, timeout: float = 15):
        return WebDriverWait(driver, timeout).until(condition)

    url = reverse("admin:stations_chargingstation_command", args=[pk, "RequestStartTransaction"])
    if log_in:
        driver.get(f"{csms.http_url}/admin/login/?next={url}")
        driver.find_element(By.ID, "id_username").send_keys("browser-op")
        driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    else:
        driver.get(f"{csms.http_url}{url}")
    token = wait(ec.presence_of_element_located((By.NAME, "f__idToken__idToken")))
    # The input offers the tokens the CSMS knows as the operator types.
    options = driver.find_elements(By.CSS_SELECTOR, "datalist#f__idToken__idToken-tokens option")
    assert "FLEET-CARD-42" in [o.get_attribute("value") for o in options]
    assert token.get_attribute("value") == ""  # no made-up default
    token.send_keys(token_value)
    if log_in:
        _screenshot(driver, "remote-start")
    driver.find_element(By.NAME, "_send").click()
    station = wait(ec.presence_of_element_located((By.ID, "command-summary"))).text
    followup = (
        By.CSS_SELECTOR,
        "#remote-start-followup[data-state=accepted], "
        + ("#remote-start-followup[data-state=refused]"),
    )
    box = wait(ec.presence_of_element_located(followup))
    if log_in:
        _screenshot(driver, "remote-start-decided")
    return {
        "station": station,
        "state": box.get_attribute("data-state"),
        "csms": box.get_attribute("data-csms-status"),
        "text": box.text,
    }


# --- a bulk command to 100 stations: one summary ------------------------------------------


class AnsweringStation(ChargePoint201):
    """A 2.0.1 station answering Reset with `answer`, or not at all within the admin's
    timeout when `answer` is None."""

    answer: str | None = "Accepted"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resets: list[str] = []

    @on("Reset")
    async def on_reset(self, type, **kwargs):
        self.resets.append(type)
        if self.answer is None:
            await asyncio.sleep(10)
        return result201.Reset(status=self.answer or "Accepted")


class RejectingStation(AnsweringStation):
    answer = "Rejected"


class SilentStation(AnsweringStation):
    answer = None


class Rejecting16(ChargePoint16):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resets: list[str] = []

    @on("Reset")
    async def on_reset(self, type, **kwargs):
        self.resets.append(type)
        return result16.Reset(status="Rejected")


# 100 stations: what each group answers to a Reset sent from the stations list.
BULK = {
    "accepted": (70, AnsweringStation, "2.0.1"),
    "rejected": (10, RejectingStation, "2.0.1"),
    "rejected-16": (5, Rejecting16, "1.6"),
    "timed out": (5, SilentStation, "2.0.1"),
}
BULK_OFFLINE = 10


@sync_to_async
def create_offline_stations(count: int) -> None:
    from stations.models import ChargingStation

    ChargingStation.objects.bulk_create(
        ChargingStation(identity=f"BULK-OFF-{n:02d}", protocol="2.0.1") for n in range(count)
    )


async def test_bulk_reset_of_100_stations_shows_one_summary_linked_to_the_records(csms, settings):
    from contextlib import AsyncExitStack

    from tests.operator import staff_session

    settings.CSMS_ADMIN_CALL_TIMEOUT = 3
    session = await staff_session("bulk-op")
    await create_offline_stations(BULK_OFFLINE)
    stations: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            async with AsyncExitStack() as stack:
                for group, (count, cls, version) in BULK.items():
                    stations[group] = [
                        await stack.enter_async_context(
                            connect(csms, f"BULK-{group}-{n:02d}", version, charge_point_class=cls)
                        )
                        for n in range(count)
                    ]
                every = [cp for group in stations.values() for cp in group]
                await asyncio.gather(
                    *(
                        cp.call(boot_call("2.0.1" if isinstance(cp, ChargePoint201) else "1.6"))
                        for cp in every
                    )
                )
                try:
                    page = await asyncio.to_thread(_bulk_reset, csms, driver, session)
                except Exception:
                    await asyncio.to_thread(_keep_evidence, driver)
                    raise
        finally:
            await asyncio.to_thread(driver.quit)
    assert page["counts"] == {
        "accepted": 70,
        "rejected": 15,
        "offline": BULK_OFFLINE,
        "timed out": 5,
    }
    assert page["records"] == "100 commands"
    # Each station got the Reset of its own version.
    assert {cp.resets[0] for cp in stations["accepted"]} == {"OnIdle"}
    assert {cp.resets[0] for cp in stations["rejected-16"]} == {"Soft"}


def _bulk_reset(csms, driver, session: str) -> dict:
    def wait(condition, timeout: float = 30):
        return WebDriverWait(driver, timeout).until(condition)

    driver.get(f"{csms.http_url}/admin/login/")
    driver.add_cookie({"name": "sessionid", "value": session, "path": "/"})
    driver.get(f"{csms.http_url}/admin/stations/chargingstation/?q=BULK")
    wait(ec.presence_of_element_located((By.ID, "action-toggle")))
    assert "100 charging stations" in driver.find_element(By.CSS_SELECTOR, "#changelist").text
    driver.find_element(By.ID, "action-toggle").click()
    Select(driver.find_element(By.NAME, "action")).select_by_value("reset_soft")
    driver.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    summary = wait(ec.presence_of_element_located((By.ID, "bulk-summary")))
    counts = {
        row.get_attribute("data-outcome"): int(row.get_attribute("data-count"))
        for row in summary.find_elements(By.CSS_SELECTOR, "tr[data-outcome]")
    }
    assert summary.get_attribute("data-total") == "100"
    _screenshot(driver, "bulk-command")
    driver.find_element(By.ID, "bulk-records").click()
    paginator = wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#changelist .paginator")))
    return {"counts": counts, "records": paginator.text.split("\n")[-1].strip()}


# --- the console as an operator sees it: screenshots kept in docs/ -------------------------


@sync_to_async
def create_charging_network() -> dict:
    """A day of a small network: 24 stations in every state, sessions with meter values
    every 10 minutes over the last 24 hours, CALLERRORs, security events and refused
    authorizations (ConcurrentTx) in the message log."""
    import uuid
    from datetime import timedelta
    from decimal import Decimal

    from ocpp_router.datetimes import utcnow
    from stations.models import ChargingStation, Connector, Evse, OcppMessage, SecurityEvent
    from transactions.models import IdToken, MeterValue, Transaction

    now = utcnow().replace(microsecond=0)
    states = ["Charging"] * 9 + ["Available"] * 7 + ["Preparing", "SuspendedEV"]
    states += ["SuspendedEVSE", "Faulted", "Unavailable"] + ["Available"] * 3
    stations = []
    for n, state in enumerate(states, start=1):
        online = n <= 21
        station = ChargingStation.objects.create(
            identity=f"DEPOT-{n:02d}",
            protocol=("2.0.1", "1.6", "2.1")[n % 3],
            is_online=online,
            registration_status="Accepted",
            vendor=("Acme", "Voltic", "Ampere")[n % 3],
            model=("AC-22", "DC-50", "AC-11")[n % 3],
            firmware_version=f"1.{n % 4}.0",
            last_seen=now - timedelta(minutes=0 if online else 60 * n),
            last_heartbeat=now - timedelta(seconds=30 * n),
        )
        evse = Evse.objects.create(station=station, evse_id=1)
        Connector.objects.create(
            evse=evse, connector_id=1, status=state, status_timestamp=now - timedelta(minutes=n)
        )
        stations.append((station, state))
    chart_tx = None
    for n, (station, state) in enumerate(stations, start=1):
        token = IdToken.objects.create(value=f"CARD-{n:04d}", type="ISO14443", status="Accepted")
        # Two finished sessions earlier in the day, and one running where the connector charges.
        spans = [(22 - n % 5, 3), (11 - n % 4, 2)]
        if state in ("Charging", "SuspendedEV", "SuspendedEVSE"):
            spans.append((1.5 + n % 3 * 0.5, 0))
        for index, (hours_ago, hours_long) in enumerate(spans):
            start = now - timedelta(hours=hours_ago)
            end = start + timedelta(hours=hours_long) if hours_long else now
            power = 7000 + 1000 * (n % 5)
            tx = Transaction.objects.create(
                station=station,
                ocpp_version=station.protocol,
                transaction_id=f"{station.identity}-{index}",
                evse_id=1,
                connector_id=1,
                id_token=token,
                id_token_value=token.value,
                auth_status="Accepted",
                is_active=not hours_long,
                charging_state="Charging" if not hours_long else "",
                started_at=start,
                stopped_at=None if not hours_long else end,
                meter_start=Decimal(0),
            )
            readings, energy, at = [], 0.0, start
            while at <= end:
                # A car slowing down as its battery fills.
                watts = power * max(0.35, 1 - (at - start).total_seconds() / 14400)
                readings += [
                    MeterValue(
                        station=station,
                        transaction=tx,
                        evse_id=1,
                        connector_id=1,
                        timestamp=at,
                        measurand="Power.Active.Import",
                        unit="W",
                        value=Decimal(round(watts)),
                    ),
                    MeterValue(
                        station=station,
                        transaction=tx,
                        evse_id=1,
                        connector_id=1,
                        timestamp=at,
                        measurand="Energy.Active.Import.Register",
                        unit="Wh",
                        value=Decimal(round(energy)),
                    ),
                ]
                energy += watts / 6
                at += timedelta(minutes=10)
            MeterValue.objects.bulk_create(readings)
            Transaction.objects.filter(pk=tx.pk).update(energy_wh=Decimal(round(energy)))
            if chart_tx is None and not hours_long:
                chart_tx = tx
    faulted = stations[18][0]
    messages = []
    for n in range(12):
        station = stations[n % len(stations)][0]
        concurrent = n % 3 == 0
        messages.append(
            OcppMessage(
                id=uuid.uuid4(),
                station=station,
                timestamp=now - timedelta(minutes=7 * n),
                direction="out",
                message_type=3,
                message_id=f"a{n}",
                action="Authorize",
                payload={"idTokenInfo": {"status": "ConcurrentTx" if concurrent else "Accepted"}},
            )
        )
    for n in range(3):
        messages.append(
            OcppMessage(
                id=uuid.uuid4(),
                station=faulted,
                timestamp=now - timedelta(minutes=13 * n),
                direction="out",
                message_type=4,
                message_id=f"e{n}",
                action="DataTransfer",
                payload={},
                error_code="NotSupported",
                error_description="DataTransfer vendor com.example is not supported",
            )
        )
    OcppMessage.objects.bulk_create(messages)
    SecurityEvent.objects.create(
        station=stations[2][0], source="station", type="FirmwareUpdated", timestamp=now
    )
    SecurityEvent.objects.create(
        station=stations[22][0],
        source="csms",
        type="InvalidCredentials",
        timestamp=now - timedelta(minutes=5),
        tech_info="wrong Basic-auth password",
    )
    return {"station": stations[0][0].pk, "transaction": chart_tx.pk}


async def test_console_pages_draw_their_figures_and_charts_in_a_browser(csms):
    """The overview, a station, a transaction's chart and the message-log search, as an
    operator's browser draws them; with CSMS_SCREENSHOTS=docs (`make screenshots`) their
    screenshots are written to docs/."""
    from tests.operator import staff_session

    session = await staff_session("docs-op")
    ids = await create_charging_network()
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            try:
                seen = await asyncio.to_thread(_console_tour, csms, driver, session, ids)
            except Exception:
                await asyncio.to_thread(_keep_evidence, driver)
                raise
        finally:
            await asyncio.to_thread(driver.quit)
    assert seen["online"] == "21" and seen["faulted"] == "1"
    assert seen["power chart"] and seen["transaction chart"]
    assert seen["found"] == 4  # the Authorize answers carrying ConcurrentTx


def _console_tour(csms, driver, session: str, ids: dict) -> dict:
    from django.urls import reverse

    def wait(condition, timeout: float = 20):
        return WebDriverWait(driver, timeout).until(condition)

    def figure(name: str) -> str:
        return driver.find_element(By.CSS_SELECTOR, f'[data-figure="{name}"]').text

    seen: dict = {}
    driver.get(f"{csms.http_url}/admin/login/")
    driver.add_cookie({"name": "sessionid", "value": session, "path": "/"})
    driver.get(f"{csms.http_url}/admin/")
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-live-state[data-state=live]")))
    wait(lambda d: figure("stations.online") == "21")
    # uPlot draws the chart on a canvas, with a time axis.
    seen["power chart"] = wait(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-power-24h .uplot canvas"))
    )
    seen["online"], seen["faulted"] = figure("stations.online"), figure("stations.faulted")
    _screenshot(driver, "overview")

    driver.get(
        f"{csms.http_url}{reverse('admin:stations_chargingstation_change', args=[ids['station']])}"
    )
    wait(ec.presence_of_element_located((By.ID, "active-transactions")))
    _screenshot(driver, "station")

    url = reverse("admin:transactions_transaction_change", args=[ids["transaction"]])
    driver.get(f"{csms.http_url}{url}")
    seen["transaction chart"] = wait(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".csms-chart .uplot canvas"))
    )
    driver.execute_script("document.querySelector('.csms-chart').scrollIntoView({block: 'center'})")
    _screenshot(driver, "transaction-chart")

    driver.get(f"{csms.http_url}{reverse('admin:stations_ocppmessage_changelist')}?q=ConcurrentTx")
    rows = wait(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "#result_list tbody tr")))
    seen["found"] = len(rows)
    _screenshot(driver, "message-log-search")
    return seen


def _csp_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
        or "Content-Security-Policy" in entry["message"]
    ]


@pytest.mark.timeout(300)
async def test_admin_dashboard_and_docs_work_under_the_content_security_policy(csms, settings):
    """The security case's browser half (csms/tests/test_security_cases.py): under the policy
    every page still runs its scripts and styles, and Chromium reports nothing blocked."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    await create_operator()
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            try:
                violations = await asyncio.to_thread(_pages_under_the_policy, csms, driver)
            except Exception:
                await asyncio.to_thread(_keep_evidence, driver)
                raise
        finally:
            await asyncio.to_thread(driver.quit)
    assert violations == {}


def _pages_under_the_policy(csms, driver) -> dict[str, list[str]]:
    def wait(condition, timeout: float = 20):
        return WebDriverWait(driver, timeout).until(condition)

    violations: dict[str, list[str]] = {}
    driver.get(f"{csms.http_url}/admin/login/?next=/admin/")
    assert "Content-Security-Policy" not in driver.page_source
    driver.find_element(By.ID, "id_username").send_keys("browser-op")
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The overview's inline script runs (its nonce), fetches and opens its websocket.
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-live-state[data-state=live]")))
    wait(lambda d: d.find_element(By.CSS_SELECTOR, '[data-figure="stations.online"]').text == "0")
    violations["/admin/"] = _csp_violations(driver)
    driver.get(f"{csms.http_url}/dashboard/")
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#csms-live-state[data-state=live]")))
    violations["/dashboard/"] = _csp_violations(driver)
    # An admin form with its widgets' scripts (the secret inputs, the actions' JSON).
    driver.get(f"{csms.http_url}/admin/integrations/integratorwebhook/add/")
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=password][name=password]")))
    violations["webhook form"] = _csp_violations(driver)
    # Swagger UI's page runs its settings from a script file (/docs?script), not inline. (Its
    # vendored bundle is a static file, which the test server does not collect.)
    driver.get(f"{csms.http_url}/docs")
    wait(lambda d: d.execute_script("return document.readyState") == "complete")
    assert driver.execute_script("return typeof swaggerSettings") == "object"
    violations["/docs"] = _csp_violations(driver)
    return {page: found for page, found in violations.items() if found}
