"""Names and places (issue 23, item 7): a token's name editable as it is
activated, and the app opened at another address says where its tokens are."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.steps import activated
from tokens.models import Token
from tokens.services.enrollment import token_assign
from tokens.services.tokeninfo import token_info


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


def test_a_name_saved_while_the_servers_word_arrives_is_kept(
    live, page, user, push_policy
):
    """The name form and token.info messages write the same record at the
    same moment: neither may overwrite the other's change."""
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.activation_link)
    page.click("#permissions-skip")
    activated(page)
    serial = page.locator("li.token").get_attribute("data-serial")
    info = token_info(Token.objects.get(serial=serial))
    stored = page.evaluate(
        """async ({ info, serial }) => {
          const socket = await import("/static/pwa/socket.js");
          const store = await import("/static/pwa/store.js");
          document.querySelector("#token-name").value = "Work phone";
          const form = document.querySelector("#token-name").form;
          const heard = [];
          for (let i = 0; i < 8; i++) {
            heard.push(socket.applyInfo({ ...info }));
            if (i === 3) form.requestSubmit();
          }
          await Promise.all(heard);
          await new Promise((done) => setTimeout(done, 300));
          return store.getToken(serial);
        }""",
        {"info": info, "serial": serial},
    )
    assert stored["label"] == "Work phone"
    assert stored["infoTime"] == info["time"]
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
