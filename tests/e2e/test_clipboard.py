"""Copy-paste activation, as the seed guide warns about it: "Copied" where
the string was copied, and an offer to clear the clipboard once the token is
active, on the page that copied it and in the app that pasted it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.steps import activated, walk_intro
from tokens.services.enrollment import token_assign


def test_copied_pasted_and_cleared(live, desktop, page, user, push_policy):  # noqa: F811
    issued = token_assign(user=user, policy=push_policy, actor="test")
    desktop.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    desktop.goto(issued.enrollment_url + "?platform=android")
    desktop.click("#no-qr summary")
    desktop.on("dialog", lambda dialog: dialog.accept())  # the clipboard warning
    desktop.click("#copy-activation")
    expect(desktop.locator("#copy-status")).to_have_text("Copied")
    text = desktop.evaluate("navigator.clipboard.readText()")
    assert text == desktop.locator("#activation-string").text_content().strip()

    page.goto(live + "/app/")
    page.click("#activate")
    page.click("#no-qr")
    page.evaluate("(t) => navigator.clipboard.writeText(t)", text)
    page.focus("#activation")
    page.keyboard.press("Control+V")
    expect(page.locator("#activation")).to_have_value(text)
    page.click("#activate-submit")
    walk_intro(page)
    activated(page)  # the offer to clear the clipboard is on the token list
    expect(page.locator("#clipboard-offer")).to_be_visible()
    page.click("#clear-clipboard")
    expect(page.locator("#clipboard-cleared")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == ""
    activated(page)

    expect(desktop.locator("#status")).to_contain_text("active")
    desktop.evaluate("(t) => navigator.clipboard.writeText(t)", text)
    desktop.click("#clear-clipboard")
    expect(desktop.locator("#clipboard-cleared")).to_be_visible()
    assert desktop.evaluate("navigator.clipboard.readText()") == ""
