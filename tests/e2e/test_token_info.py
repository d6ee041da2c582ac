"""Tokens named for what they open, and the server's word reaching the app:
an administrator renames, suspends and revokes a token while the phone's app
is open, and the app follows; the app's everyday comforts (tap to copy,
countdown ring, detail, About, delete tells the server)."""

from __future__ import annotations

import re
import time

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from playwright.sync_api import expect

from tests.e2e.test_csp import verified_admin_cookie
from tests.e2e.test_push_journeys import activate_phone
from tokens.models import AuditEvent, Token


def admin_page(desktop, live, enroll):
    desktop.context.add_cookies(
        [{"name": "sessionid", "value": verified_admin_cookie(enroll), "url": live}]
    )
    return desktop


def admin_action(desktop, live, token, action):
    desktop.goto(live + "/admin/tokens/token/")
    desktop.check(f"input[name='{ACTION_CHECKBOX_NAME}'][value='{token.pk}']")
    desktop.select_option("select[name='action']", action)
    desktop.click("button[name='index']")
    expect(desktop.locator(".messagelist")).to_be_visible()


def test_rename_suspend_resume_and_revoke_reach_the_open_app(
    live,
    page,
    desktop,
    user,
    enroll,
    push_policy,  # noqa: F811
    settings,
    shot,
):
    serial = activate_phone(page, live, user, push_policy)
    token = Token.objects.get(serial=serial)
    item = page.locator(f"li.token[data-serial='{serial}']")
    # Named for what it is for, then where it lives; under it the
    # deployment and the account.
    expect(item.locator(".token-name")).to_have_text("Tessera · Android phone")
    expect(item.locator(".token-issuer")).to_have_text("Tessera · alice")
    admin = admin_page(desktop, live, enroll)

    admin.goto(live + f"/admin/tokens/token/{token.pk}/change/")
    admin.fill("#id_name", "Work VPN")
    admin.click("input[name='_save']")
    expect(item.locator(".token-name")).to_have_text("Work VPN")  # live, no reload

    admin_action(admin, live, token, "suspend")
    expect(item).to_have_attribute("data-state", "suspended")
    expect(item.locator(".code")).to_have_count(0)
    expect(item).to_contain_text("Suspended: its passcodes are not accepted")
    shot(page, "suspended")
    admin_action(admin, live, token, "resume")
    expect(item.locator(".code")).to_have_attribute("data-code", re.compile(r"^\d{6}$"))

    admin_action(admin, live, token, "revoke")
    expect(item).to_contain_text("Removed: this token no longer works")
    expect(item.locator(".code")).to_have_count(0)
    shot(page, "revoked")
    page.click(f"#delete-{serial}")
    page.click("#dialog-ok")
    expect(page.get_by_text("was deleted from this device")).to_be_visible()


def test_the_apps_comforts_and_delete_tells_the_server(
    live,
    page,
    user,
    push_policy,  # noqa: F811
    shot,
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    push_policy.otp_kind = "totp"
    push_policy.save()
    serial = activate_phone(page, live, user, push_policy)
    item = page.locator(f"li.token[data-serial='{serial}']")
    arc = item.locator(".ring-arc")
    expect(arc).to_have_attribute("stroke-dashoffset", re.compile(r"^\d"))
    expect(page.locator("#add-token")).to_have_text("+Add token")

    code = item.locator(".code").get_attribute("data-code")
    item.locator(".code-button").click()
    expect(page.locator("dialog")).to_contain_text("clipboard is shared")
    page.click("#dialog-ok")
    expect(item.locator(".copied")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == item.locator(".code").get_attribute("data-code") or copied == code
    page.evaluate("navigator.clipboard.writeText('')")
    item.locator(".code-button").click()  # the warning is shown once
    expect(page.locator("dialog")).to_have_count(0)
    # The copy is asynchronous: wait until it has landed before clearing.
    deadline = time.monotonic() + 5
    while not page.evaluate("navigator.clipboard.readText()"):
        assert time.monotonic() < deadline, "the second copy never landed"
        page.wait_for_timeout(50)
    # The clipboard is emptied after 30 s where the page may read it.
    page.evaluate(
        "async () => { const m = await import('/static/pwa/screens/tokens.js');"
        " await m.clearClipboard(await navigator.clipboard.readText()); }"
    )
    assert page.evaluate("navigator.clipboard.readText()") == ""

    item.locator(".token-open").click()
    expect(page.locator("#detail-issuer")).to_have_text("Tessera")
    expect(page.locator("#detail-account")).to_have_text("alice")
    expect(page.locator("#detail-serial")).to_have_text(serial)
    expect(page.locator("#detail-pin")).to_have_text("None")
    expect(page.locator("#detail-push")).to_have_text("On")
    shot(page, "detail")
    page.click("#delete")
    expect(page.locator("dialog")).to_contain_text("Tessera will revoke it")
    page.click("#dialog-ok")
    expect(page.get_by_text(f"{serial} was deleted from this device.")).to_be_visible()
    assert Token.objects.get(serial=serial).state == "revoked"
    assert AuditEvent.objects.filter(action="device.remove", serial=serial).exists()

    page.click("#about")
    expect(page.locator("#about-server")).to_have_text(live)
    expect(page.locator("#about-version")).not_to_have_text("unknown")
    shot(page, "about")
