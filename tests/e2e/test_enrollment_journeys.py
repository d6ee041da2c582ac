"""The four enrollment methods end to end: a desktop browser on the portal or
the self-enrollment page, a phone running the PWA; each ends with a login."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.camera import phone_with_camera, scan_in_pwa
from tests.e2e.steps import next_step_code, paste_in_pwa, wizard_to_setup
from tokens.models import Token
from tokens.services.enrollment import token_assign

PASSWORD = "correct horse battery"


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


def finish_in_pwa(phone):
    phone.click("#intro-otp-continue")
    phone.click("#done-continue")
    return next_step_code(phone)


def portal_login(desktop, live, passcode, shot=None):
    desktop.goto(live + "/")
    desktop.click("#start")
    desktop.fill("#id_username", "alice")
    desktop.click("#submit")
    desktop.fill("#id_password", PASSWORD)
    desktop.click("#submit")  # one password form for everyone, then the passcode
    desktop.fill("#id_passcode", passcode)
    desktop.click("#submit")
    expect(desktop.locator("#tokens")).to_contain_text("Active")
    if shot:
        shot(desktop, "dashboard")


def test_self_enrollment_in_the_portal(
    live, desktop, browser_type, user, no_pin_default, mail_dir, tmp_path, shot
):
    wizard_to_setup(desktop, live, mail_dir, PASSWORD, shot)
    expect(desktop.locator("#qr svg")).to_be_visible()
    shot(desktop, "3-setup")
    # "I have activated it" before the phone did anything: not active yet.
    desktop.click("#continue")
    expect(desktop.locator(".message.error")).to_contain_text("not active yet")
    expect(desktop.locator("#qr svg")).to_be_visible()
    picture = desktop.locator("#qr").screenshot()
    with phone_with_camera(browser_type, tmp_path, picture, clock=True) as phone:
        scan_in_pwa(phone, live)
        passcode = finish_in_pwa(phone)
        expect(desktop.locator("#status")).to_contain_text(
            "active"
        )  # live, over the websocket
        # The spent QR code and button give way to the success state.
        expect(desktop.locator("#qr")).to_be_hidden()
        expect(desktop.locator("#open-app")).to_be_hidden()
        expect(desktop.locator(".message.error")).to_have_count(0)
        shot(desktop, "4-active")
        desktop.click("#continue")
        desktop.fill("#id_passcode", passcode)
        desktop.click("#submit")
        expect(desktop.locator("#tokens")).to_contain_text("Active")
        shot(desktop, "5-enrolled")
        desktop.click("text=Log out")
        portal_login(desktop, live, next_step_code(phone))


def test_automatic_enrollment_from_the_email_link_on_the_phone(
    live, page, desktop, user, no_pin_default, shot
):
    page.clock.install()
    token_assign(user=user, actor="admin:root")
    link = re.search(r"http://\S+/enroll/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.click("#platform-android")
    shot(page, "link-page")
    page.click("#open-app")  # same device: opens the PWA with the activation link
    passcode = finish_in_pwa(page)
    assert Token.objects.get().state == "active"
    portal_login(desktop, live, passcode, shot)


def test_qr_code_enrollment_from_the_email_link(
    live, desktop, browser_type, user, no_pin_default, tmp_path, shot
):
    token_assign(user=user, actor="admin:root")
    link = re.search(r"http://\S+/enroll/\S+/", mail.outbox[-1].body).group(0)
    desktop.goto(link)
    desktop.click("#platform-android")
    picture = desktop.locator("#qr").screenshot()
    with phone_with_camera(browser_type, tmp_path, picture, clock=True) as phone:
        scan_in_pwa(phone, live)
        passcode = finish_in_pwa(phone)
        expect(desktop.locator("#status")).to_contain_text("active")
        shot(desktop, "active")
        portal_login(desktop, live, passcode)


def test_copy_paste_enrollment(live, desktop, page, user, no_pin_default, shot):
    page.clock.install()
    token_assign(user=user, actor="admin:root")
    link = re.search(r"http://\S+/enroll/\S+/", mail.outbox[-1].body).group(0)
    desktop.goto(link + "?platform=ios")
    desktop.click("#no-qr summary")
    text = desktop.locator("#activation-string").text_content()
    shot(desktop, "string")
    paste_in_pwa(page, live, text)
    passcode = finish_in_pwa(page)
    expect(desktop.locator("#status")).to_contain_text("active")
    portal_login(desktop, live, passcode)


def test_an_expired_link_page_tells_the_user_what_to_do(live, desktop, user, shot):
    from django.utils import timezone

    from tokens.models import Enrollment

    issued = token_assign(user=user, actor="admin:root", notify=False)
    Enrollment.objects.update(expires_at=timezone.now())
    desktop.goto(issued.enrollment_url)
    expect(desktop.locator("h1")).to_contain_text("cannot be used")
    shot(desktop, "expired")
