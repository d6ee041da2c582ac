"""Messages that blame the right party and promise only what exists
(issue 23, item 4), seen in the browser."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.steps import activated
from tests.e2e.test_webpush import STUB_PUSH_MANAGER
from tests.webpush_receiver import Subscription
from tokens.services.enrollment import token_assign


def test_a_server_that_refuses_the_push_address_is_not_the_users_doing(
    live, page, user, push_policy
):
    """Notifications allowed, but the server refuses the subscription (here a
    loopback endpoint, which no push service has): the app says so and sends
    the user to the administrator, not to a button that does not exist."""
    subscription = Subscription()
    stub = {
        "endpoint": "http://127.0.0.1:9/phone",
        "p256dh": subscription.p256dh,
        "auth": subscription.auth,
    }
    page.context.grant_permissions(["notifications"], origin=live)
    page.context.add_init_script(STUB_PUSH_MANAGER % json.dumps(stub))
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.activation_link)
    activated(page)
    note = page.locator("#push-note")
    expect(note).to_have_attribute("data-problem", "refused")
    expect(note).to_contain_text("Tell your administrator")
    expect(note).not_to_contain_text("turn notifications on later")


def test_blocked_notifications_point_to_the_browser_settings(
    live, page, user, push_policy
):
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.activation_link)
    # Headless Chromium without a granted permission answers "denied".
    page.click("#permissions-continue")
    activated(page)
    note = page.locator("#push-note")
    expect(note).to_have_attribute("data-problem", "denied")
    expect(note).to_contain_text("browser's settings")
    expect(page.locator("#notifications-on")).to_have_count(0)


def test_a_browser_without_web_push_is_not_promised_a_button(
    live, page, user, push_policy
):
    """No PushManager here: the note says so, and offers no "later" that the
    token list would not keep."""
    page.context.add_init_script("delete window.PushManager;")
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.activation_link)
    activated(page)
    note = page.locator("#push-note")
    expect(note).to_have_attribute("data-problem", "unsupported")
    expect(note).not_to_contain_text("later")
    expect(page.locator("#notifications-on")).to_have_count(0)
