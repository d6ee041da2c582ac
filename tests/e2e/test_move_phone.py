"""Moving to a new phone with the old one in hand: a guided re-enrollment of
the same token from the portal; the old phone works until the new one is
activated, then hears that the token no longer works there."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import PHONE
from tests.e2e.steps import activated, paste_in_pwa, walk_intro
from tests.e2e.test_push_journeys import activate_phone, start_portal_login
from tokens.models import AuditEvent, Token


def test_the_token_moves_and_the_old_phone_is_told(
    live,
    browser,
    desktop,
    page,
    user,
    push_policy,  # noqa: F811
    shot,
):
    serial = activate_phone(page, live, user, push_policy)
    number = start_portal_login(desktop, live)
    page.click(f"#number-{number}")  # the old phone still logs in
    expect(desktop.locator("#tokens")).to_be_visible()
    desktop.click(f"#move-{serial}")
    shot(desktop, "1-move")
    desktop.click("#platform-android")
    desktop.click("#no-qr summary")
    expect(desktop.locator("#status")).to_contain_text("Waiting")  # not "active"

    new_phone = browser.new_context(**PHONE).new_page()
    paste_in_pwa(new_phone, live, desktop.locator("#activation-string").text_content())
    old = page.locator(f"li.token[data-serial='{serial}']")
    # Activated, not yet confirmed: the new phone asks about notifications.
    expect(new_phone.locator("main[data-screen=permissions]")).to_be_visible()
    # Until the new phone confirms, the old one keeps its token and logs in.
    elsewhere = browser.new_context().new_page()
    number = start_portal_login(elsewhere, live)
    page.click(f"#number-{number}")
    expect(elsewhere.locator("#tokens")).to_be_visible()
    expect(old).not_to_contain_text("Removed")
    walk_intro(new_phone)
    activated(new_phone)
    expect(old).to_contain_text("Removed: this token no longer works")
    expect(desktop.locator("#status")).to_contain_text("active on the new phone")
    expect(desktop.get_by_text("keeps working until")).to_be_hidden()
    shot(desktop, "2-moved")
    shot(page, "3-old-phone")
    token = Token.objects.get(serial=serial)
    assert token.state == "active"
    assert AuditEvent.objects.filter(
        action="enrollment.issue", serial=serial, actor="user:alice"
    ).exists()
    new_phone.context.close()
