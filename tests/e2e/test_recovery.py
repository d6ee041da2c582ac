"""The phone is lost: the user reports it (password and emailed code), the
old app hears its token is suspended, the new phone is enrolled, backup
codes are saved, and a backup code opens the portal later."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import PHONE
from tests.e2e.steps import activated, password_login, paste_in_pwa, walk_intro
from tests.e2e.test_push_journeys import PASSWORD, activate_phone
from tokens.models import AuditEvent, Token


def latest_code(mail_dir) -> str:
    mail_file = max(mail_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    return re.search(r"verification code is (\d{6})", mail_file.read_text()).group(1)


def test_lost_phone_new_phone_and_a_backup_code_later(
    live,
    browser,
    desktop,
    page,
    user,
    push_policy,  # noqa: F811
    mail_dir,
    shot,
):
    old_serial = activate_phone(page, live, user, push_policy)  # the phone lost
    desktop.goto(live + "/")
    password_login(desktop, PASSWORD)
    expect(desktop.locator("#push-number")).to_be_visible()
    desktop.click("#lost-phone")
    expect(desktop.locator("h1")).to_have_text("I lost my phone")
    shot(desktop, "1-lost")
    desktop.click("#submit")
    desktop.fill("#id_code", latest_code(mail_dir))
    desktop.click("#submit")
    expect(desktop.locator(".message.info").first).to_contain_text("is suspended")
    old = page.locator(f"li.token[data-serial='{old_serial}']")
    expect(old).to_have_attribute("data-state", "suspended")  # the old app heard
    assert Token.objects.get(serial=old_serial).state == "suspended"
    shot(desktop, "2-add-new")

    new_phone = browser.new_context(**PHONE).new_page()
    desktop.click("#submit")  # Authenticator App
    desktop.click("#platform-android")
    desktop.click("#no-qr summary")
    paste_in_pwa(new_phone, live, desktop.locator("#activation-string").text_content())
    walk_intro(new_phone)
    activated(new_phone)
    # Active: the set-up page goes on by itself to the first push.
    expect(desktop.locator("#push-number")).to_have_text(re.compile(r"^\d\d$"))
    number = desktop.locator("#push-number").inner_text()
    new_phone.click(f"#number-{number}")
    expect(desktop.locator("#backup-offer")).to_be_visible()
    desktop.click("#make-codes")
    codes = [c.strip() for c in desktop.locator("#backup-codes code").all_inner_texts()]
    assert len(codes) == 10
    shot(desktop, "3-codes")
    # Saved as a person would: copied, or downloaded as a file.
    desktop.context.grant_permissions(["clipboard-read", "clipboard-write"])
    desktop.click("#copy-codes")
    expect(desktop.locator("#copy-codes-status")).to_have_text("Copied")
    assert desktop.evaluate("navigator.clipboard.readText()").split() == codes
    with desktop.expect_download() as download:
        desktop.click("#download-codes")
    saved = Path(download.value.path()).read_text()
    assert saved.split() == codes
    assert download.value.suggested_filename == "tessera-backup-codes-alice.txt"
    desktop.click("#codes-saved")
    expect(desktop.locator("#backup-codes-link")).to_contain_text("10 left")

    desktop.click("#logout")
    desktop.goto(live + "/login/")
    desktop.fill("#id_username", "alice")
    desktop.click("#submit")
    desktop.click("#use-backup")
    desktop.fill("#id_password", PASSWORD)
    desktop.fill("#id_code", codes[3])
    desktop.click("#submit")
    expect(desktop.locator("#tokens")).to_be_visible()
    expect(desktop.locator(".messagelist, .message").first).to_contain_text("9 left")
    shot(desktop, "4-backup-login")
    assert AuditEvent.objects.filter(action="portal.lost_device").exists()
    assert AuditEvent.objects.filter(action="backup.use", outcome="success").exists()
    new_phone.context.close()
