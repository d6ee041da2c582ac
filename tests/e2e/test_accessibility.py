"""Every page of the portal, the enrollment pages and the app checked with
axe-core (npm, the version package-lock.json pins), at phone and desktop
widths, in light and dark: no serious or critical violation.

axe is injected into the page, which the pages' strict CSP would refuse, so
these contexts bypass CSP (the CSP itself is tested in test_csp.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.steps import activated, walk_intro
from tests.e2e.test_csp import verified_admin_cookie
from tokens.models import Token
from tokens.services.backup import backup_codes_generate
from tokens.services.enrollment import token_assign

AXE = Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}"""

SIZES = {"phone": PHONE, "desktop": DESKTOP}


def check(page, name: str, found: dict) -> None:
    found.setdefault("_checked", []).append(name)
    page.add_script_tag(path=str(AXE))
    problems = page.evaluate(RUN_AXE)
    if problems:
        found[name] = problems


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_no_serious_accessibility_violation(
    live,
    browser,
    user,
    enroll,
    push_policy,  # noqa: F811
    size,
    scheme,
):
    found: dict[str, list[str]] = {}
    context = browser.new_context(**SIZES[size], color_scheme=scheme, bypass_csp=True)
    page = context.new_page()

    # The portal before login, and the enrollment pages of a notification link.
    for name, path in [
        ("start", "/"),
        ("login", "/login/"),
        ("app-welcome", "/app/"),
    ]:
        page.goto(live + path)
        check(page, name, found)
    page.goto(live + "/login/")
    page.fill("#id_username", "alice")
    page.click("#submit")
    check(page, "login-password", found)
    page.goto(live + "/login/backup/")
    check(page, "login-backup", found)
    page.goto(live + "/login/lost/")
    check(page, "lost-phone", found)
    issued = token_assign(user=user, policy=push_policy, actor="test")
    page.goto(issued.enrollment_url + "?platform=choose")
    check(page, "enroll-platforms", found)
    page.goto(issued.enrollment_url + "?platform=android")
    check(page, "enroll-setup", found)
    link = page.locator("#open-app").first.get_attribute("href")

    # The app: activation, token list, detail, About.
    page.goto(live + "/app/")
    page.click("#activate")
    check(page, "app-activate", found)
    page.goto(link)
    walk_intro(page)
    activated(page)
    check(page, "app-activated", found)
    expect(page.locator("li.token .code")).to_have_attribute(
        "data-code", re.compile(r"^\d{6}$")
    )
    check(page, "app-tokens", found)
    page.click(".token-open")
    check(page, "app-token", found)
    page.goto(live + "/app/")
    page.click("#about")
    check(page, "app-about", found)

    # A push login: the portal's waiting page and the app's request screen.
    page.goto(live + "/app/")
    expect(page.locator("html")).to_have_attribute("data-push", "online")
    portal = context.new_page()
    portal.goto(live + "/login/")
    portal.fill("#id_username", "alice")
    portal.click("#submit")
    portal.fill("#id_password", "correct horse battery")
    portal.click("#submit")
    expect(portal.locator("#push-number")).to_be_visible()
    check(portal, "login-push", found)
    expect(page.locator("[data-screen=challenge]")).to_be_visible()
    check(page, "app-approve", found)
    portal.close()

    # The portal after login: dashboard, backup codes, move, admin dashboard.
    backup_codes_generate(user=user, actor="test")
    cookie = verified_admin_cookie(enroll)
    admin = get_user_model().objects.get(username="root")
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live}])
    page.goto(live + "/authenticators/")
    check(page, "dashboard", found)
    page.goto(live + "/authenticators/backup-codes/")
    check(page, "backup-codes", found)
    serial = Token.objects.filter(user=admin).first().serial
    page.goto(live + "/admin/")
    check(page, "admin-dashboard", found)
    # The admin's user page (with its token inline) and the audit's filters.
    page.goto(live + f"/admin/auth/user/{admin.pk}/change/")
    check(page, "admin-user", found)
    page.goto(live + "/admin/tokens/auditevent/?outcome__exact=success")
    check(page, "admin-audit", found)
    for name in ("move", "rename", "remove"):
        page.goto(live + f"/authenticators/{serial}/{name}/")
        check(page, name, found)
    # The Add Authenticator wizard, as a logged-in user adds a second one.
    page.goto(live + "/authenticators/")
    page.click("#add-authenticator")
    check(page, "add-password", found)
    page.fill("#id_password", "pw")
    page.click("#submit")
    check(page, "add-app", found)
    page.click("#submit")
    check(page, "add-platform", found)
    page.click("#platform-android")
    check(page, "add-setup", found)
    context.close()

    checked = found.pop("_checked")
    assert len(checked) == 27, checked  # every page above
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
