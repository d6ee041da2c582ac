"""The admin dashboard in a browser: charts drawn, a locked token unlocked."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.e2e.test_csp import RECORD_VIOLATIONS, verified_admin_cookie
from tests.tokens.test_dashboard import push
from tokens.models import AuditEvent, Token


def test_an_admin_sees_the_state_and_unlocks_a_token(live, desktop, page, enroll, shot):
    cookie = verified_admin_cookie(enroll)
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    token = Token.objects.get(serial=enroll(bob).serial)
    Token.objects.filter(pk=token.pk).update(state="locked", failure_count=5)
    for state, days in (("approved", 0), ("approved", 1), ("denied", 2)):
        push("bob", state, days_ago=days)

    for browser_page in (page, desktop):  # phone, then desktop
        browser_page.context.add_cookies(
            [{"name": "sessionid", "value": cookie, "url": live}]
        )
        browser_page.add_init_script(RECORD_VIOLATIONS)
        browser_page.goto(live + "/admin/")
        expect(browser_page.locator("#site-name")).to_contain_text("Tessera")
        bars = browser_page.locator("#chart-pushes rect[data-key='approved']")
        expect(bars).to_have_count(2)
        box = bars.first.bounding_box()
        assert box and box["height"] > 0 and box["width"] > 0
        expect(browser_page.locator("#locked-tokens")).to_contain_text(token.serial)
        assert browser_page.evaluate("window.__csp") == []
        shot(browser_page, "phone" if browser_page is page else "desktop")

    desktop.get_by_role("button", name=f"Unlock {token.serial}").click()
    expect(desktop.locator(".messagelist")).to_contain_text(f"Unlocked {token.serial}")
    expect(desktop.locator("#no-locked")).to_be_visible()
    assert Token.objects.get(pk=token.pk).state == "active"
    assert AuditEvent.objects.filter(
        action="token.unlock", serial=token.serial
    ).exists()
    desktop.goto(live + "/admin/auth/user/")
    row = desktop.locator("#result_list tr", has_text="bob@example.com")
    row.get_by_role("link", name="Tokens and activity").click()
    expect(desktop.locator("#user-tokens")).to_contain_text(token.serial)
    shot(desktop, "user")


def test_the_token_list_fits_a_1280_pixel_screen(live, desktop, enroll, shot):
    cookie = verified_admin_cookie(enroll)
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    enroll(bob)
    desktop.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live}])
    desktop.set_viewport_size({"width": 1280, "height": 800})
    desktop.goto(live + "/admin/tokens/token/")
    expect(desktop.locator("#result_list")).to_be_visible()
    shot(desktop, "tokens-1280")
    wide = desktop.evaluate("document.documentElement.scrollWidth")
    assert wide <= 1280, f"the page is {wide} px wide"
    # Every column shows: the table does not scroll within its box.
    results = desktop.locator("#changelist .results")
    inner, box = results.evaluate("(r) => [r.scrollWidth, r.clientWidth]")
    assert inner <= box, f"the token table needs {inner} px of {box}"
    actions = desktop.locator("#changelist .actions select").bounding_box()
    filters = desktop.locator("#changelist-filter").bounding_box()
    assert actions["x"] + actions["width"] <= filters["x"]
