"""Steps shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def validate(username: str, passcode: str) -> dict:
    """Ask /api/v1/auth/validate as a relying application would."""
    from rest_framework.test import APIClient

    from tokens.services.apiclients import api_client_create

    _, key = api_client_create(name=f"rp-{passcode}", actor="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"username": username, "passcode": passcode}
    return client.post("/api/v1/auth/validate", body, format="json").json()


def next_step_code(page) -> str:
    """Move the page's installed clock one TOTP step on; return the new code.

    The confirmation consumed the current step's code, so a login needs the
    next one; the server's ±1 step window accepts it at once.
    """
    code = page.locator(".code")
    expect(code).to_have_attribute("data-code", re.compile(r"^\d{6}$"))
    first = code.get_attribute("data-code")
    page.clock.fast_forward(30_000)
    expect(code).not_to_have_attribute("data-code", first)
    return code.get_attribute("data-code")


# A screen after the activation's own ones ("Activating…" and the rest).
SETTLED = "main[data-screen]" + "".join(
    f":not([data-screen={s}])" for s in ("busy", "activate", "paste", "welcome")
)


def walk_intro(page, push=True):
    """The activation's screens before the PIN: none, but the question
    whether login requests may notify (answered "Not now") when asked."""
    page.locator(SETTLED).wait_for()
    if push and page.locator("main[data-screen=permissions]").count():
        page.click("#permissions-skip")


def activated(page):
    """The activation ends on the token list (no Done screen)."""
    expect(page.locator("main[data-screen=tokens]")).to_be_visible(timeout=15_000)


def add_virtual_authenticator(context, page):
    """A platform authenticator with UV and PRF; returns (cdp, its id)."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "hasPrf": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def presence(cdp, authenticator: str, on: bool) -> None:
    """Whether the virtual authenticator answers at once. Off, a person picks
    a passkey from the username field's suggestions (autofill) only if they
    want to, so a page can be looked at before the passkey answers."""
    cdp.send(
        "WebAuthn.setAutomaticPresenceSimulation",
        {"authenticatorId": authenticator, "enabled": on},
    )


def password_login(desktop, password, username="alice"):
    """From the Start page: Start, the username, then the password."""
    desktop.click("#start")
    desktop.fill("#id_username", username)
    desktop.click("#submit")
    desktop.fill("#id_password", password)
    desktop.click("#submit")


def wizard_to_choice(desktop, live, mail_dir, password, shot=None):
    """Start, username, password (with no authenticator yet it leads on to
    Add Authenticator), the emailed code; ends on the choice of authenticator."""
    desktop.goto(live + "/")
    if shot:
        shot(desktop, "1-start")
    password_login(desktop, password)
    if shot:
        shot(desktop, "2-add")
    desktop.click("#add-authenticator")
    expect(desktop.locator("#id_code")).to_be_visible()
    mail_file = max(mail_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    code = re.search(r"verification code is (\d{6})", mail_file.read_text()).group(1)
    desktop.fill("#id_code", code)
    desktop.click("#submit")


def wizard_to_setup(desktop, live, mail_dir, password, shot=None):
    """The portal wizard as a user walks it, then Authenticator App and
    Android; ends on the set-up page."""
    wizard_to_choice(desktop, live, mail_dir, password, shot)
    desktop.click("#submit")  # Authenticator App
    desktop.click("#platform-android")


def paste_in_pwa(page, live, text: str) -> None:
    """Open the authenticator and activate with a pasted activation string."""
    page.goto(live + "/app/")
    page.click("#activate")
    page.click("#no-qr")
    page.fill("#activation", text)
    page.click("#activate-submit")
