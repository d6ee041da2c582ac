"""PROTOCOL §7 in the app: a fingerprint or face unlock the server checks,
with Chromium's virtual platform authenticator (CDP)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import activated, add_virtual_authenticator, walk_intro
from tests.e2e.test_push_journeys import start_portal_login
from tokens.models import AuditEvent, PushChallenge, Token
from tokens.services.enrollment import token_assign


@pytest.fixture
def uv_policy(push_policy):  # noqa: F811
    push_policy.user_verification = "required"
    push_policy.save(update_fields=["user_verification"])
    return push_policy


def activate_with_fingerprint(page, user, policy):
    """Activate on a phone with a platform authenticator; (cdp, its id, issued)."""
    cdp, authenticator = add_virtual_authenticator(page.context, page)
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link)
    walk_intro(page)
    activated(page)
    expect(page.locator("html")).to_have_attribute("data-push", "online")
    return cdp, authenticator, issued


def test_approvals_carry_a_fingerprint_the_server_verifies(
    live, desktop, page, user, uv_policy, shot
):
    _, _, issued = activate_with_fingerprint(page, user, uv_policy)
    token = Token.objects.get(serial=issued.token.serial)
    assert token.state == "active" and token.uv_credential_id
    number = start_portal_login(desktop, live)
    page.click(f"#number-{number}")
    expect(desktop.locator("#tokens")).to_be_visible()  # logged in
    shot(page, "approved")
    event = AuditEvent.objects.get(action="push.answer", outcome="success")
    assert event.detail["webauthn"] is True
    assert Token.objects.get(pk=token.pk).uv_sign_count >= 1


def test_an_unverified_user_cannot_approve(live, desktop, page, user, uv_policy):
    cdp, authenticator, _ = activate_with_fingerprint(page, user, uv_policy)
    cdp.send(
        "WebAuthn.setUserVerified",
        {"authenticatorId": authenticator, "isUserVerified": False},
    )
    start_portal_login(desktop, live)
    number = PushChallenge.objects.get().number
    page.click(f"#number-{number}")
    expect(page.locator("[data-screen=challenge]")).to_contain_text(
        "fingerprint or face unlock was not confirmed"
    )
    assert PushChallenge.objects.get().state == "pending"


def test_a_phone_without_one_is_stopped_before_the_pin(live, page, user, uv_policy):
    uv_policy.pin_mode = "token"
    uv_policy.save(update_fields=["pin_mode"])
    issued = token_assign(user=user, policy=uv_policy, actor="test")
    page.goto(issued.activation_link)  # no platform authenticator here
    expect(page.locator("[data-screen=uv-unavailable]")).to_contain_text(
        "needs a phone with a fingerprint or face unlock"
    )
    assert page.locator("#pin").count() == 0  # no PIN was asked for
    page.click("#uv-unavailable-continue")
    expect(page.locator("[data-screen=welcome]")).to_contain_text("was not activated")
    assert Token.objects.get(serial=issued.token.serial).state == "assigned"


def test_the_same_link_restarts_on_a_phone_that_has_one(
    live, browser, page, user, uv_policy
):
    """A phone without a fingerprint does not burn the activation: the same
    link, opened on a phone with one, activates the token."""
    from tests.e2e.conftest import PHONE

    issued = token_assign(user=user, policy=uv_policy, actor="test")
    page.goto(issued.activation_link)  # no platform authenticator here
    expect(page.locator("[data-screen=uv-unavailable]")).to_be_visible()
    page.click("#uv-unavailable-continue")
    assert Token.objects.get(serial=issued.token.serial).state == "assigned"

    other = browser.new_context(**PHONE).new_page()
    add_virtual_authenticator(other.context, other)
    other.goto(issued.activation_link)
    walk_intro(other)
    activated(other)
    expect(other.locator("li.token")).to_have_count(1)
    token = Token.objects.get(serial=issued.token.serial)
    assert token.state == "active" and token.uv_credential_id
    assert AuditEvent.objects.filter(
        action="enrollment.activate", detail__restart=True
    ).exists()
    other.context.close()


@pytest.mark.parametrize("finger", ["allowed", "required"])
def test_one_registration_and_one_prompt_per_approval(
    live, desktop, page, user, uv_policy, finger
):
    """With the server checking the fingerprint, the app asks no optional
    "Use your fingerprint / Skip" (Skip still registered one), registers one
    credential, and an approval prompts once (one assertion)."""
    uv_policy.fingerprint = finger
    uv_policy.save(update_fields=["fingerprint"])
    cdp, authenticator = add_virtual_authenticator(page.context, page)
    issued = token_assign(user=user, policy=uv_policy, actor="test")
    page.goto(issued.activation_link)
    walk_intro(page)
    activated(page)
    expect(page.locator("html")).to_have_attribute("data-push", "online")

    def credentials():
        answer = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        return answer["credentials"]

    assert len(credentials()) == 1
    before = credentials()[0]["signCount"]
    number = start_portal_login(desktop, live)
    page.click(f"#number-{number}")
    expect(desktop.locator("#tokens")).to_be_visible()
    assert credentials()[0]["signCount"] == before + 1
    assert Token.objects.get(serial=issued.token.serial).uv_sign_count >= 1
