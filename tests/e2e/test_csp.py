"""A strict Content-Security-Policy on every page, with nothing it blocks."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from tokens.models import Token

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def verified_admin_cookie(enroll) -> dict:
    from django_otp import DEVICE_ID_SESSION_KEY

    root = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    device = enroll(root)
    client = Client()
    client.force_login(root)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = Token.objects.get(
        serial=device.serial
    ).persistent_id
    session.save()
    return client.cookies["sessionid"].value


@pytest.mark.parametrize(
    "path, ready",
    [
        ("/", "#start"),
        ("/login/", "#id_username"),
        ("/app/", "#activate"),
        ("/api/docs/", "text=Tessera API"),
        ("/admin/", "#site-name"),
        ("/admin/tokens/policy/add/", "#policy_form"),
    ],
    ids=["start", "login", "app", "api-docs", "admin", "admin-policy"],
)
def test_every_page_has_a_strict_policy_and_breaks_nothing(
    live, desktop, enroll, shot, path, ready
):
    elsewhere = []
    desktop.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(live) else None,
    )
    if path.startswith("/admin/"):
        desktop.context.add_cookies(
            [{"name": "sessionid", "value": verified_admin_cookie(enroll), "url": live}]
        )
    desktop.add_init_script(RECORD_VIOLATIONS)
    console = []
    desktop.on("console", lambda m: console.append(m.text))
    response = desktop.goto(live + path)
    policy = response.headers["content-security-policy"]
    for directive in (
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ):
        assert directive in policy
    assert "unsafe-eval" not in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    expect(desktop.locator(ready).first).to_be_visible()
    desktop.wait_for_timeout(300)
    # Nothing blocked, nothing asked of another origin (ReDoc's vendor logo
    # included: the bundle served names our own icon).
    assert desktop.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m]
    assert "fonts.googleapis.com" not in desktop.content()
    assert [u for u in elsewhere if not u.startswith(("data:", "blob:"))] == []
    shot(desktop, "page")
