"""Names and places (issue 23, item 7): a token's name editable as it is
activated, and the app opened at another address says where its tokens are."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.steps import activated
from tokens.services.enrollment import token_assign


def test_the_new_tokens_name_is_editable_right_away(live, page, user, push_policy):
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.activation_link)
    page.click("#permissions-skip")
    activated(page)
    # The server's word on the token arrives meanwhile; the name typed here
    # must survive it.
    expect(page.locator("html")).to_have_attribute("data-push", "online")
    field = page.locator("#token-name")
    expect(field).to_have_value("Tessera · Android phone")  # what it is for, then where
    field.fill("Work phone")
    page.click("#token-name-save")
    expect(page.locator("li.token .token-name")).to_have_text("Work phone")


def test_the_app_at_another_address_says_where_the_tokens_are(live, page, user):
    other = live.replace("localhost", "127.0.0.1")
    page.goto(other + "/app/")
    note = page.locator("#other-address")
    expect(note).to_contain_text("are kept there")
    expect(page.locator("#home-link")).to_have_attribute("href", live + "/app/")
    page.goto(live + "/app/")
    expect(page.locator("[data-screen=welcome]")).to_be_visible()
    expect(page.locator("#other-address")).to_have_count(0)
