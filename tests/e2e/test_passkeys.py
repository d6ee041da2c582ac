"""Passkeys in the portal, in Chromium with its virtual authenticator: add
one in Add Authenticator, log in with it after the password, log in without
a password, and remove it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.steps import (
    add_virtual_authenticator,
    password_login,
    presence,
    wizard_to_choice,
)
from tokens.models import AuditEvent, Passkey

PASSWORD = "correct horse battery"


def log_out(desktop):
    desktop.click("text=Log out")
    expect(desktop.locator("#start")).to_be_visible()


def test_a_user_enrolls_and_logs_in_with_a_passkey(live, desktop, user, mail_dir, shot):
    cdp, authenticator = add_virtual_authenticator(desktop.context, desktop)

    wizard_to_choice(desktop, live, mail_dir, PASSWORD)
    desktop.check("#kind-passkey")
    shot(desktop, "1-choice")
    desktop.click("#submit")
    desktop.fill("#passkey-name", "Work laptop")
    desktop.click("#passkey-create")
    expect(desktop.locator("#passkeys")).to_contain_text("Work laptop")
    shot(desktop, "2-dashboard")
    assert Passkey.objects.get(user=user).discoverable

    # After the password, the passkey is offered first.
    log_out(desktop)
    presence(cdp, authenticator, False)
    password_login(desktop, PASSWORD)
    expect(desktop.locator("#passkey-login")).to_be_visible()
    shot(desktop, "3-use-your-passkey")
    presence(cdp, authenticator, True)
    desktop.click("#passkey-login")
    expect(desktop.locator("#passkeys")).to_contain_text("Work laptop")

    # Without a password, from the Start page.
    log_out(desktop)
    desktop.click("#passkey-signin")
    expect(desktop.locator("#passkeys")).to_be_visible()
    # Autofill: the username field offers the passkey (conditional
    # mediation); the virtual authenticator picks it at once.
    log_out(desktop)
    desktop.click("#start")
    expect(desktop.locator("#passkeys")).to_be_visible()
    uses = AuditEvent.objects.filter(action="passkey.use", outcome="success")
    assert [e.detail["passwordless"] for e in uses.order_by("id")] == [
        False,
        True,
        True,
    ]

    # Removal asks for the password again.
    passkey = Passkey.objects.get(user=user)
    desktop.click(f"#remove-passkey-{passkey.pk}")
    desktop.fill("#id_password", PASSWORD)
    desktop.click("#submit")
    expect(desktop.locator("body")).to_contain_text("The passkey was removed.")
    assert not Passkey.objects.filter(user=user).exists()
