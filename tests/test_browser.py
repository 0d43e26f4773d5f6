"""End to end in a real headless browser (Debian's chromium with chromedriver, via Selenium):
an operator logs in, watches a station come online on the live dashboard without a reload,
and resets it from the station page."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from ocpp.routing import on
from ocpp.v201 import ChargePoint as ChargePoint201
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
    """Kept in docs/ when CSMS_SCREENSHOTS names the folder (how docs/*.png are made)."""
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
            _screenshot(driver, "overview")

        await asyncio.to_thread(sees_it_online)


class StartableStation(ChargePoint201):
    started_with = None

    @on("RequestStartTransaction")
    async def on_request_start(self, id_token, remote_start_id, **kwargs):
        self.started_with = id_token
        return result201.RequestStartTransaction(status="Accepted")


@sync_to_async
def create_token(value: str) -> None:
    from transactions.models import IdToken

    IdToken.objects.create(value=value, type="ISO14443", status="Accepted")


@sync_to_async
def station_pk(identity: str) -> int:
    from stations.models import ChargingStation

    return ChargingStation.objects.get(identity=identity).pk


async def test_operator_remote_starts_with_a_token_picked_from_the_known_ones(csms, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    await create_operator()
    await create_token("FLEET-CARD-42")
    with tempfile.TemporaryDirectory(prefix="csms-chromium-") as profile:
        driver = await asyncio.to_thread(start_browser, profile)
        try:
            async with connect(csms, "START 1", "2.0.1", charge_point_class=StartableStation) as cp:
                await cp.call(boot_call("2.0.1"))
                pk = await station_pk("START 1")
                try:
                    summary = await asyncio.to_thread(_remote_start, csms, driver, pk)
                except Exception:
                    await asyncio.to_thread(_keep_evidence, driver)
                    raise
                assert summary == "START 1 answered RequestStartTransaction: Accepted"
                assert cp.started_with == {"id_token": "FLEET-CARD-42", "type": "ISO14443"}
        finally:
            await asyncio.to_thread(driver.quit)


def _remote_start(csms, driver, pk: int) -> str:
    from django.urls import reverse

    def wait(condition, timeout: float = 15):
        return WebDriverWait(driver, timeout).until(condition)

    url = reverse("admin:stations_chargingstation_command", args=[pk, "RequestStartTransaction"])
    driver.get(f"{csms.http_url}/admin/login/?next={url}")
    driver.find_element(By.ID, "id_username").send_keys("browser-op")
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    token = wait(ec.presence_of_element_located((By.NAME, "f__idToken__idToken")))
    # The input offers the tokens the CSMS knows as the operator types.
    options = driver.find_elements(By.CSS_SELECTOR, "datalist#f__idToken__idToken-tokens option")
    assert [o.get_attribute("value") for o in options] == ["FLEET-CARD-42"]
    assert token.get_attribute("value") == ""  # no made-up default
    token.send_keys("FLEET-CARD-42")
    _screenshot(driver, "remote-start")
    driver.find_element(By.NAME, "_send").click()
    return wait(ec.presence_of_element_located((By.ID, "command-summary"))).text
