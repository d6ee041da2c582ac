"""The small things of the journeys (issue 23, items 1, 4, 7, 8): what is
pre-selected, where a page leads, which hints show, and to whom."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model

from tests.portal.test_enrollment_views import ANDROID, DESKTOP
from tests.tokens.test_admin import verified_login
from tokens.models import Token
from tokens.services.enrollment import token_assign

PASSWORD = "correct horse battery"


def primary_platform(page: str) -> str:
    return re.search(r'class="btn primary"[^>]*id="platform-(\w+)"', page).group(1)


def test_on_a_computer_the_phone_is_pre_selected(client, user):
    issued = token_assign(user=user, actor="test", notify=False)
    page = client.get(issued.enrollment_url, HTTP_USER_AGENT=DESKTOP).content.decode()
    assert primary_platform(page) == "android"  # not "Linux (this device)"
    assert page.index('id="platform-android"') < page.index('id="platform-linux"')
    assert "(this device)" in page.split('id="platform-linux"')[1].split("</a>")[0]


def test_on_a_phone_the_link_goes_straight_to_that_phones_setup(client, user):
    issued = token_assign(user=user, actor="test", notify=False)
    page = client.get(issued.enrollment_url, HTTP_USER_AGENT=ANDROID).content.decode()
    assert 'id="open-app"' in page and "platform-android" not in page
    assert 'id="other-device"' in page  # another device is one tap away
    chooser = client.get(issued.enrollment_url + "?platform=choose").content.decode()
    assert 'id="platform-ios"' in chooser


def test_the_link_page_leads_into_the_login_of_the_tokens_owner(client, user):
    issued = token_assign(user=user, actor="test", notify=False)
    page = client.get(issued.enrollment_url + "?platform=ios").content.decode()
    assert 'id="continue" href="/login/continue/"' in page
    assert "works until" in page and "shows the same one" in page
    login = client.get("/login/continue/").content.decode()
    assert "Log in as alice" in login


def test_a_logged_in_stranger_is_not_led_into_the_owners_login(client, user):
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    client.force_login(bob)
    issued = token_assign(user=user, actor="test", notify=False)
    page = client.get(issued.enrollment_url + "?platform=ios").content.decode()
    assert 'id="continue" href="/"' in page
    assert client.session.get("tessera_login_username") is None


def test_password_fields_say_current_password(client, user):
    client.post("/login/", {"username": "alice"})
    page = client.get("/login/continue/").content.decode()
    assert 'autocomplete="current-password"' in page
    assert 'type="password"' in page


def test_the_server_pin_hint_shows_only_to_server_pin_users(
    client, user, enroll, make_policy
):
    enroll(user, policy=make_policy(pin_mode="token", push_enabled=False))
    client.post("/login/", {"username": "alice"})
    after = client.post("/login/continue/", {"password": PASSWORD})
    page = client.get(after.url).content.decode()
    assert 'id="id_passcode"' in page and "PIN" not in page

    other = get_user_model().objects.create_user("carol", "c@example.com", PASSWORD)
    enroll(
        other,
        policy=make_policy(name="srv", pin_mode="server", push_enabled=False),
        server_pin="4821",
    )
    client.post("/login/", {"username": "carol"})
    after = client.post("/login/continue/", {"password": PASSWORD})
    page = client.get(after.url).content.decode()
    assert "Type your PIN, then the passcode" in page


def test_the_password_page_promises_nothing_the_user_may_not_have(client, user):
    client.post("/login/", {"username": "alice"})
    page = client.get("/login/continue/").content.decode()
    assert "your phone" not in page and "send a login request" not in page


def test_staff_see_a_link_to_the_admin_and_others_do_not(client, user, enroll):
    device = enroll(user)
    verified_login(client, user, Token.objects.get(serial=device.serial))
    assert 'id="admin-link"' not in client.get("/authenticators/").content.decode()
    user.is_staff = True
    user.save()
    assert 'id="admin-link"' in client.get("/authenticators/").content.decode()


def test_the_favicon_is_the_app_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and "icon-192" in response.url


def test_a_locked_user_is_told_after_the_password_not_asked_for_a_passcode(
    client, user, enroll, make_policy
):
    device = enroll(user, policy=make_policy(pin_mode="none", push_enabled=False))
    Token.objects.filter(serial=device.serial).update(state="locked")
    client.post("/login/", {"username": "alice"})
    response = client.post("/login/continue/", {"password": PASSWORD}, follow=True)
    page = response.content.decode()
    assert "locked" in page.lower()
    assert 'id="id_passcode"' not in page and "This field is required" not in page


def test_the_first_admin_lands_on_the_admin_after_enrolling(
    client, api, django_capture_on_commit_callbacks
):
    """createsuperuser, then /admin/: the portal's login with Add
    Authenticator, and after the first passcode, the admin itself."""
    import time

    from tests.portal.test_enrollment_views import (
        activate_from_page,
        code_from_email,
    )

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    assert "/login/" in client.get("/admin/").url
    client.get("/login/?next=/admin/")
    client.post("/login/?next=/admin/", {"username": "root"})
    assert client.post("/login/continue/", {"password": PASSWORD}).url == "/add/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    client.post("/add/verify/", {"code": code_from_email()})
    client.post("/add/app/")
    client.post("/add/platform/", {"platform": "android"})
    device = activate_from_page(api, client.get("/add/setup/").content.decode())
    done = client.post(
        "/add/setup/finish/", {"passcode": device.code(time.time() + 30)}
    )
    assert done.url == "/admin/"
    assert client.get("/admin/").status_code == 200
