"""Installable, offline, and fingerprint unlock, in a persistent Chromium profile."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, PHONE, QUIET_FLAGS
from tests.e2e.steps import (
    activated,
    add_virtual_authenticator,
    next_step_code,
    validate,
)
from tokens.services.enrollment import token_assign


@pytest.fixture
def persistent(browser_type, tmp_path):
    context = browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=QUIET_FLAGS, **PHONE
    )
    yield context
    context.close()


def activate_by_link(page, issued):
    page.goto(issued.activation_link)
    activated(page)


def test_the_app_is_installable_and_shows_passcodes_offline(
    live, persistent, user, make_policy
):
    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page = persistent.new_page()
    activate_by_link(page, issued)
    # Polled from here: wait_for_function would eval in the page, which the
    # app's Content-Security-Policy (rightly) forbids.
    for _ in range(150):
        if page.evaluate("() => navigator.serviceWorker.controller !== null"):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the service worker never took control")
    cdp = persistent.new_cdp_session(page)
    assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    manifest = page.request.get(
        page.url.split("/app/")[0] + "/app/manifest.webmanifest"
    ).json()
    assert manifest["display"] == "standalone" and manifest["scope"] == "/app/"
    assert {i["purpose"] for i in manifest["icons"]} == {"any", "maskable"}

    persistent.set_offline(True)
    page.reload()
    code = page.locator(f'.code[data-serial="{issued.token.serial}"]')
    expect(code).to_have_attribute("data-code", re.compile(r"^\d{6}$"))
    shown_ms = page.evaluate(
        "performance.getEntriesByName('tessera-first-passcode')[0].startTime"
    )
    print(f"\noffline passcode shown {shown_ms:.0f} ms after navigation start")
    cached = page.evaluate("""async () => {
        const names = await caches.keys();
        const urls = [];
        for (const n of names) for (const r of await (await caches.open(n)).keys()) urls.push(r.url);
        return {names, urls};
    }""")
    assert len(cached["names"]) == 1 and cached["names"][0].startswith("tessera-shell-")
    assert not [u for u in cached["urls"] if "/api/" in u]
    page.screenshot(path=str(ARTIFACTS / "offline-reload.png"))


def test_the_self_test_passes_and_storage_keeps_no_plain_seed(
    live, persistent, user, make_policy
):
    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page = persistent.new_page()
    activate_by_link(page, issued)
    expect(page.locator(".code")).to_be_visible()
    assert page.evaluate("document.documentElement.dataset.selftest") is None
    record = page.evaluate("""async () => {
        const db = await new Promise(r => { const q = indexedDB.open('tessera'); q.onsuccess = () => r(q.result); });
        return await new Promise(r => { const q = db.transaction('tokens').objectStore('tokens').getAll(); q.onsuccess = () => r(q.result[0]); });
    }""")
    assert "seed" not in record and record["sealed"]["ct"]


def test_fingerprint_with_prf_unlocks_a_token_pin_token(
    live, persistent, user, make_policy, shot
):
    policy = make_policy(pin_mode="token", fingerprint="allowed", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page = persistent.new_page()
    add_virtual_authenticator(persistent, page)
    page.clock.install()
    page.goto(issued.activation_link)
    for _ in range(2):
        page.fill("#pin", "9753")
        page.click("#pin-submit")
    shot(page, "fingerprint-offer")
    page.click("#fingerprint-continue")
    activated(page)
    page.click(".token-open")  # no PIN screen: the fingerprint unwraps the key
    code = page.locator(".code")
    expect(code).to_have_attribute("data-code", re.compile(r"^\d{6}$"))
    expect(page.locator("#pin")).to_have_count(0)
    assert validate("alice", next_step_code(page))["result"] == "accept"
    stored = page.evaluate("""async () => {
        const db = await new Promise(r => { const q = indexedDB.open('tessera'); q.onsuccess = () => r(q.result); });
        const rec = await new Promise(r => { const q = db.transaction('tokens').objectStore('tokens').getAll(); q.onsuccess = () => r(q.result[0]); });
        return rec.fingerprint;
    }""")
    assert stored["prf"] is True and stored["wrappedPinKey"]["ct"]


def test_rename_copy_warning_and_delete(live, page, user, make_policy, shot):
    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    activate_by_link(page, issued)
    page.click(".token-open")
    page.click("#copy")
    expect(page.locator("dialog")).to_contain_text("clipboard is shared")
    shot(page, "copy-warning")
    page.click("dialog >> text=Cancel")
    page.click("#rename")
    page.fill("#name", "Work VPN")
    page.click("#rename-save")
    expect(page.locator(".token-name")).to_have_text("Work VPN")
    page.click(".token-open")
    page.click("#delete")
    page.click("#dialog-ok")
    expect(page.get_by_text("was deleted from this device")).to_be_visible()
    expect(page.locator("#activate")).to_be_visible()


def test_activating_offline_says_so(live, page, user):
    issued = token_assign(user=user, actor="test")
    page.goto(live + "/app/")
    page.click("#activate")
    page.click("#no-qr")
    page.context.set_offline(True)
    page.fill("#activation", issued.activation_string)
    page.click("#activate-submit")
    expect(page.get_by_role("alert")).to_contain_text("offline")
    page.context.set_offline(False)


def test_dark_mode_and_desktop_layouts_render(live, browser, user, make_policy, shot):
    from tests.e2e.conftest import DESKTOP

    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    context = browser.new_context(color_scheme="dark", **PHONE)
    page = context.new_page()
    activate_by_link(page, issued)
    expect(page.locator(".code")).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 23, 42)"
    shot(page, "dark")
    context.close()
    desktop = browser.new_context(**DESKTOP).new_page()
    desktop.goto(live + "/app/")
    expect(desktop.locator("#activate")).to_be_visible()
    shot(desktop, "desktop")


def test_a_required_fingerprint_without_a_sensor_stops_activation(
    live, page, user, make_policy
):
    from tokens.models import Token

    policy = make_policy(pin_mode="none", fingerprint="required", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link.replace("127.0.0.1", "localhost"))
    expect(page.locator("[data-screen=fingerprint-required]")).to_be_visible()
    page.click("#fingerprint-required-continue")
    expect(page.get_by_text("cannot unlock it with a fingerprint")).to_be_visible()
    assert Token.objects.get().state == "assigned"  # never confirmed
