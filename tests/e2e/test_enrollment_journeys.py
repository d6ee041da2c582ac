"""The four enrollment methods end to end, counted as a person walks them:
a desktop browser on the portal or the self-enrollment page, a phone running
the PWA; each ends with the first login. Every journey prints its screens,
taps and typed fields, and may need no more than the seed's guide does.

The seed's counts (SafeNet's "Enroll a SafeNet MobilePASS+ token" guide for
Android, the product this one is measured against),
for the policy these tests use (no PIN, no push: the guide skips its PIN
steps 5–6 and its Push screen then), with its portal login where the guide
ends at the token list (Start; Username and Login; the passcode and Submit):

- self-enrollment: Start · Username, Login · Add Authenticator · code,
  Continue · password, Submit · Authenticator App, Submit · Android ·
  Activate (scan) · Continue (One-Time Passcode) · Done · passcode, Submit —
  15 screens (start, username, add, code, password, choice, platform, QR,
  app, scanner, OTP intro, done, token list, passcode, portal), 12 taps,
  4 fields;
- email link on the phone: Enroll your token · Open · Continue · Done, then
  the login — 9 screens, 7 taps, 2 fields;
- QR code from the email link: Android · Activate (scan) · Continue · Done,
  then the login — 11 screens, 7 taps, 2 fields;
- copy-paste: the platform · copy · Activate · No QR Code? · paste,
  Activate · Continue · Done, then the login — 12 screens, 10 taps, 3 fields.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.camera import phone_with_camera
from tests.e2e.journey import COUNTED, Journey
from tests.e2e.steps import next_step_code
from tokens.models import Token
from tokens.services.enrollment import token_assign

PASSWORD = "correct horse battery"

SEED = {  # screens, taps, fields: see the module's docstring
    "self-enrollment": (15, 12, 4),
    "email link": (9, 7, 2),
    "QR code": (11, 7, 2),
    "copy-paste": (12, 10, 3),
}


@pytest.fixture
def no_pin_default(db):
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.pin_mode, policy.push_enabled, policy.fingerprint = "none", False, "disabled"
    # The phone's clock is fast-forwarded a step per login (each step's code
    # is single-use); a ±2 window lets the second login follow at once.
    policy.otp_window = 2
    policy.save()
    return policy


def no_longer_than_the_seed(journey: Journey, *pages) -> None:
    journey.settle(*pages)
    print(journey.report())
    screens, taps, fields = SEED[journey.name]
    print(f"  the seed's guide: {screens} screens, {taps} taps, {fields} fields")
    COUNTED.append(
        f"{journey.name}: {len(journey.screens)} screens, {journey.taps} taps, "
        f"{journey.fields} fields (the seed's guide: {screens}, {taps}, {fields})"
    )
    assert len(journey.screens) <= screens, journey.report()
    assert journey.taps <= taps, journey.report()
    assert journey.taps + journey.fields <= taps + fields, journey.report()


def link_of(message) -> str:
    return re.search(r"http://\S+/enroll/\S+/", message.body).group(0)


def open_app_and_scan(j: Journey, phone, live) -> None:
    phone.goto(live + "/app/")  # the installed app, opened
    j.tap(phone, "#activate")  # the camera starts at once and reads the code
    expect(phone.locator("main[data-screen=tokens]")).to_be_visible()


def log_in_from_password(j: Journey, desktop, passcode: str) -> None:
    """The login the link page led into: "Log in as alice", password, then
    the passcode."""
    expect(desktop.locator("h1")).to_contain_text("Log in as alice")
    j.type(desktop, "#id_password", PASSWORD)
    j.tap(desktop, "#submit")
    j.type(desktop, "#id_passcode", passcode)
    j.tap(desktop, "#submit")
    expect(desktop.locator("#tokens")).to_contain_text("Active")


def portal_login(j: Journey, desktop, live, passcode: str) -> None:
    desktop.goto(live + "/")
    j.tap(desktop, "#start")
    j.type(desktop, "#id_username", "alice")
    j.tap(desktop, "#submit")
    log_in_from_password(j, desktop, passcode)


def test_self_enrollment_in_the_portal(
    live, desktop, browser_type, user, no_pin_default, mail_dir, tmp_path, shot
):
    j = Journey("self-enrollment")
    j.watch(desktop.context)
    desktop.goto(live + "/")
    shot(desktop, "1-start")
    j.tap(desktop, "#start")
    j.type(desktop, "#id_username", "alice")
    j.tap(desktop, "#submit")
    j.type(desktop, "#id_password", PASSWORD)
    j.tap(desktop, "#submit")
    shot(desktop, "2-add")
    j.tap(desktop, "#add-authenticator")
    expect(desktop.locator("#id_code")).to_be_visible()
    mail_file = max(mail_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    code = re.search(r"verification code is (\d{6})", mail_file.read_text()).group(1)
    j.type(desktop, "#id_code", code)
    j.tap(desktop, "#submit")
    j.tap(desktop, "#submit")  # Authenticator App
    # On a computer the phone is pre-selected (the primary button).
    expect(desktop.locator("#platform-android")).to_have_class(re.compile("primary"))
    j.tap(desktop, "#platform-android")
    expect(desktop.locator("#qr svg")).to_be_visible()
    shot(desktop, "3-setup")
    picture = desktop.locator("#qr").screenshot()
    with phone_with_camera(browser_type, tmp_path, picture, clock=True) as phone:
        j.watch(phone.context)
        open_app_and_scan(j, phone, live)
        passcode = next_step_code(phone)
        # Active: the page moves on by itself to the first login.
        expect(desktop.locator("h1")).to_contain_text("Your token is active")
        shot(desktop, "4-first-login")
        j.type(desktop, "#id_passcode", passcode)
        j.tap(desktop, "#submit")
        expect(desktop.locator("#tokens")).to_contain_text("Active")
        shot(desktop, "5-enrolled")
        no_longer_than_the_seed(j, desktop, phone)


def test_automatic_enrollment_from_the_email_link_on_the_phone(
    live, page, desktop, user, no_pin_default, shot
):
    j = Journey("email link")
    j.watch(page.context)
    j.watch(desktop.context)
    page.clock.install()
    token_assign(user=user, actor="admin:root")
    page.goto(link_of(mail.outbox[-1]))  # on the phone: no platform to choose
    shot(page, "link-page")
    j.tap(page, "#open-app")  # opens the PWA with the activation link
    expect(page.locator("main[data-screen=tokens]")).to_be_visible()
    shot(page, "activated")
    assert Token.objects.get().state == "active"
    portal_login(j, desktop, live, next_step_code(page))
    no_longer_than_the_seed(j, page, desktop)


def test_qr_code_enrollment_from_the_email_link(
    live, desktop, browser_type, user, no_pin_default, tmp_path, shot
):
    j = Journey("QR code")
    j.watch(desktop.context)
    token_assign(user=user, actor="admin:root")
    desktop.goto(link_of(mail.outbox[-1]))
    shot(desktop, "platforms")
    j.tap(desktop, "#platform-android")
    picture = desktop.locator("#qr").screenshot()
    with phone_with_camera(browser_type, tmp_path, picture, clock=True) as phone:
        j.watch(phone.context)
        open_app_and_scan(j, phone, live)
        # The link page goes on into the login, begun for the token's owner.
        log_in_from_password(j, desktop, next_step_code(phone))
        shot(desktop, "logged-in")
        no_longer_than_the_seed(j, desktop, phone)


def test_copy_paste_enrollment(live, desktop, page, user, no_pin_default, shot):
    j = Journey("copy-paste")
    j.watch(page.context)
    j.watch(desktop.context)
    desktop.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.clock.install()
    token_assign(user=user, actor="admin:root")
    desktop.goto(link_of(mail.outbox[-1]))
    j.tap(desktop, "#platform-ios")
    j.tap(desktop, "#no-qr summary")
    desktop.on("dialog", lambda dialog: dialog.accept())
    j.tap(desktop, "#copy-activation")
    j.taps += 1  # the clipboard warning's OK
    expect(desktop.locator("#copy-status")).to_have_text("Copied")
    text = desktop.evaluate("navigator.clipboard.readText()")
    shot(desktop, "string")
    page.goto(live + "/app/")
    j.tap(page, "#activate")
    j.tap(page, "#no-qr")
    j.type(page, "#activation", text)  # pasted
    j.tap(page, "#activate-submit")
    expect(page.locator("main[data-screen=tokens]")).to_be_visible()
    # The page that copied the string offers to clear the clipboard, and
    # so stays until the user goes on.
    expect(desktop.locator("#clear-clipboard")).to_be_visible()
    j.tap(desktop, "#continue")
    log_in_from_password(j, desktop, next_step_code(page))
    no_longer_than_the_seed(j, page, desktop)


def test_an_expired_link_page_tells_the_user_what_to_do(live, desktop, user, shot):
    from django.utils import timezone

    from tokens.models import Enrollment

    issued = token_assign(user=user, actor="admin:root", notify=False)
    Enrollment.objects.update(expires_at=timezone.now())
    desktop.goto(issued.enrollment_url)
    expect(desktop.locator("h1")).to_contain_text("cannot be used")
    shot(desktop, "expired")
