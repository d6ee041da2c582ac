"""PIN modes, event-based tokens, QR scanning and the link, in the PWA."""

import re

from playwright.sync_api import expect

from tests.e2e.camera import phone_with_camera, scan_in_pwa
from tests.e2e.conftest import PHONE, QUIET_FLAGS
from tests.e2e.steps import activated, next_step_code, validate, walk_intro
from tokens.models import AuditEvent, Token
from tokens.qr import qr_png
from tokens.services.enrollment import token_assign


def create_pin(page, pin):
    page.fill("#pin", pin)
    page.click("#pin-submit")
    page.fill("#pin", pin)
    page.click("#pin-submit")


def test_link_activation_with_a_token_pin_unlocks_with_the_pin(
    live, page, user, make_policy, shot
):
    policy = make_policy(
        pin_mode="token",
        pin_min_length=4,
        pin_max_length=6,
        fingerprint="disabled",
        push_enabled=True,
    )
    issued = token_assign(user=user, policy=policy, actor="test")
    page.clock.install()
    page.goto(issued.activation_link)
    walk_intro(page)
    expect(page.locator("#pin-rules")).to_have_text("Use 4 to 6 digits.")
    page.fill("#pin", "12")
    page.click("#pin-submit")
    expect(page.get_by_role("alert")).to_contain_text("4 to 6 digits")
    shot(page, "create-pin")
    create_pin(page, "2468")
    activated(page)
    assert page.evaluate("location.hash") == ""  # the code left the address bar
    expect(page.locator("li.token .hint")).to_contain_text("PIN protected")
    page.click(".token-open")
    page.fill("#pin", "2468")
    page.click("#pin-submit")
    value = next_step_code(page)
    shot(page, "passcode")
    assert validate("alice", value)["result"] == "accept"
    stored = page.evaluate("""async () => {
        const db = await new Promise(r => { const q = indexedDB.open('tessera'); q.onsuccess = () => r(q.result); });
        const rec = await new Promise(r => { const q = db.transaction('tokens').objectStore('tokens').getAll(); q.onsuccess = () => r(q.result[0]); });
        return {keys: Object.keys(rec), extractable: rec.deviceKey.extractable, hasCheck: typeof rec.pin.check};
    }""")
    assert "seed" not in stored["keys"] and stored["extractable"] is False


def open_pin_token(page, user, make_policy) -> None:
    """A token with the PIN 1357 and 3 attempts, activated and tapped open:
    the PIN prompt is on screen."""
    policy = make_policy(
        pin_mode="token", pin_max_attempts=3, fingerprint="disabled", push_enabled=False
    )
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link)
    create_pin(page, "1357")
    activated(page)
    page.click(".token-open")


def test_wrong_token_pins_are_limited_then_the_token_is_wiped(
    live, page, user, make_policy, shot
):
    open_pin_token(page, user, make_policy)
    wrong = 0
    candidates = (f"{n:04d}" for n in range(10000) if f"{n:04d}" != "1357")
    while wrong < 3:
        # About 1 wrong PIN in 16 passes the local check and shows a plausible
        # but wrong passcode (only the server can tell); the rest count down.
        page.evaluate(
            "document.querySelectorAll('[role=alert]').forEach(e => e.remove())"
        )
        page.fill("#pin", next(candidates))
        page.click("#pin-submit")
        outcome = page.locator("[role=alert], .code, [data-screen=welcome]").first
        outcome.wait_for()
        if page.locator(".code").count():
            page.click("[aria-label=Back]")
            page.click(".token-open")
            continue
        wrong += 1
        if wrong < 3:
            expect(page.get_by_role("alert")).to_contain_text(f"{3 - wrong} attempt")
    expect(page.locator("[data-screen=welcome]")).to_be_visible()
    expect(page.get_by_text("Too many wrong PINs")).to_be_visible()
    shot(page, "wiped")


def test_a_pin_of_the_wrong_length_costs_no_attempt(live, page, user, make_policy):
    open_pin_token(page, user, make_policy)
    # More tries than the policy's 3 attempts: had they counted, the token
    # would have been wiped.
    for short in ("1", "12", "123", "12", "1"):
        page.fill("#pin", short)
        page.click("#pin-submit")
        expect(page.get_by_role("alert")).to_contain_text("The PIN must have 4 to 8")
    page.fill("#pin", "1357")
    page.click("#pin-submit")
    expect(page.locator(".code")).to_have_attribute("data-code", re.compile(r"^\d{6}$"))


def test_server_pin_mode_sends_the_pin_and_says_pin_then_passcode(
    live, page, user, make_policy, shot
):
    policy = make_policy(pin_mode="server", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page.clock.install()
    page.goto(issued.activation_link)
    create_pin(page, "8642")
    expect(page.locator("#server-pin-note")).to_contain_text(
        "PIN followed by the passcode"
    )
    shot(page, "done")
    activated(page)
    value = next_step_code(page)
    assert validate("alice", value)["result"] == "reject"
    assert validate("alice", "8642" + value)["result"] == "accept"


def test_event_based_token_shows_the_next_passcode_on_demand(
    live, page, user, make_policy
):
    policy = make_policy(
        otp_kind="hotp", pin_mode="none", fingerprint="disabled", push_enabled=False
    )
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link)
    activated(page)
    code = page.locator(".code")
    first = code.get_attribute("data-code")
    assert validate("alice", first)["result"] == "accept"
    page.click(f"#next-{issued.token.serial}")
    expect(code).not_to_have_attribute("data-code", first)
    assert validate("alice", code.get_attribute("data-code"))["result"] == "accept"


def test_scanning_the_qr_code_with_the_camera_activates(
    live, browser_type, user, make_policy, tmp_path, shot
):
    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    picture = qr_png(issued.activation_link)
    with phone_with_camera(browser_type, tmp_path, picture) as page:
        scan_in_pwa(page, live)
        activated(page)
        expect(page.locator(".code")).to_have_attribute(
            "data-code", re.compile(r"^\d{6}$")
        )
        shot(page, "scanned")
    assert Token.objects.get().state == "active"


def test_refused_camera_offers_paste_instead(live, browser_type, user):
    browser = browser_type.launch(
        executable_path="/usr/bin/chromium",
        args=QUIET_FLAGS + ["--use-fake-device-for-media-stream"],
    )
    try:
        context = browser.new_context(**PHONE)
        page = context.new_page()
        page.goto(live + "/app/")
        page.click("#activate")  # no permission granted and no prompt UI: refused
        expect(page.get_by_role("alert")).to_contain_text("Paste the activation string")
        page.click("#no-qr")
        expect(page.locator("#activation")).to_be_visible()
    finally:
        browser.close()


def test_used_and_foreign_activations_get_clear_messages(live, page, user, make_policy):
    policy = make_policy(pin_mode="none", fingerprint="disabled", push_enabled=False)
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link)
    activated(page)
    page.goto(live + "/app/")
    page.click("#add-token")
    page.click("#no-qr")
    page.fill("#activation", issued.activation_string)
    page.click("#activate-submit")
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    page.fill(
        "#activation",
        "https://other.example.com/app/#activate=" + issued.activation_string,
    )
    page.click("#activate-submit")
    expect(page.get_by_role("alert")).to_contain_text(
        "another server (other.example.com)"
    )
    assert AuditEvent.objects.filter(
        action="enrollment.activate", outcome="failure"
    ).exists()
