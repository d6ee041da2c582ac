"""The PWA activates tokens in a real browser and its passcodes log users in."""

import re

from playwright.sync_api import expect

from tests.e2e.steps import activated, next_step_code, validate
from tokens.models import Token
from tokens.services.enrollment import token_assign


def test_paste_activation_with_no_pin_shows_a_passcode_the_server_accepts(
    live, page, user, make_policy, shot
):
    policy = make_policy(pin_mode="none", push_enabled=False, fingerprint="disabled")
    issued = token_assign(user=user, policy=policy, actor="test")
    page.clock.install()
    page.goto(live + "/app/")
    shot(page, "welcome")
    page.click("#activate")
    page.click("#no-qr")
    page.fill("#activation", issued.activation_string.lower().replace("-", " "))
    shot(page, "paste")
    page.click("#activate-submit")
    activated(page)
    expect(page.locator(".message.info")).to_contain_text("is activated")
    shot(page, "done")
    code = page.locator(f'.code[data-serial="{issued.token.serial}"]')
    expect(code).to_have_attribute("data-code", re.compile(r"^\d{6}$"))
    shot(page, "list")
    assert Token.objects.get().state == "active"
    # The code on screen is the one the confirmation consumed: a replay.
    assert validate("alice", code.get_attribute("data-code"))["result"] == "reject"
    assert validate("alice", next_step_code(page))["result"] == "accept"


def test_a_typo_in_the_activation_string_is_explained(live, page, user, shot):
    issued = token_assign(user=user, actor="test")
    text = issued.activation_string
    typo = text[:3] + ("A" if text[3] != "A" else "B") + text[4:]
    page.goto(live + "/app/")
    page.click("#activate")
    page.click("#no-qr")
    page.fill("#activation", typo)
    page.click("#activate-submit")
    expect(page.get_by_role("alert")).to_contain_text("typo")
    page.fill("#activation", text[:-4])
    page.click("#activate-submit")
    expect(page.get_by_role("alert")).to_contain_text("should have 47")
    shot(page, "typo")
