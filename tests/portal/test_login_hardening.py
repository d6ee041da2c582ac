"""The portal and admin login doors against guessing, probing and skipping."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from tokens.models import AuditEvent, Token

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def to_password_form(client, username="alice", next_url=""):
    client.get("/login/" + (f"?next={next_url}" if next_url else ""))
    client.post("/login/", {"username": username})


def passcode_login(client, device, password=PASSWORD):
    return client.post(
        "/login/continue/?method=passcode",
        {"password": password, "passcode": device.code(time.time() + 30)},
    )


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser(
        "root", "root@example.com", PASSWORD
    )


def test_the_admin_takes_a_password_alone_no_longer(client, root, enroll):
    enroll(root)
    client.force_login(root)  # a right password, no second factor
    index = client.get("/admin/")
    assert index.status_code == 302 and index.url.startswith("/admin/login/")
    login = client.get(index.url)
    assert login.url.startswith("/login/?next=")
    assert not AuditEvent.objects.filter(action="admin.login").exists()


def test_a_staff_user_reaches_the_admin_with_password_and_passcode(
    client, root, make_policy, enroll
):
    device = enroll(root, make_policy(push_enabled=False, pin_mode="none"))
    to_password_form(client, "root", next_url="/admin/")
    done = passcode_login(client, device)
    assert done.url == "/admin/"
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="admin.login")
    assert (event.outcome, event.username, event.serial) == (
        "success",
        "root",
        device.serial,
    )


def test_a_failed_admin_login_is_audited(client, root, make_policy, enroll):
    device = enroll(root, make_policy(push_enabled=False, pin_mode="none"))
    to_password_form(client, "root", next_url="/admin/")
    passcode_login(client, device, password="wrong")
    event = AuditEvent.objects.get(action="admin.login")
    assert (event.outcome, event.username) == ("failure", "root")


def test_a_staff_user_without_a_token_enrolls_first(client, root):
    to_password_form(client, "root", next_url="/admin/")
    assert client.post("/login/continue/", {"password": PASSWORD}).url == "/add/"
    assert client.get("/admin/").status_code == 302


def test_an_open_redirect_is_not_followed(client, user, make_policy, enroll):
    device = enroll(user, make_policy(push_enabled=False, pin_mode="none"))
    to_password_form(client, next_url="https://evil.example/")
    assert passcode_login(client, device).url == "/authenticators/"


def test_no_authenticator_is_not_told_before_the_password(client, user):
    """A stranger typing a username learns nothing: the same password page
    for an unknown user and for a user with no authenticator."""
    to_password_form(client, "alice")
    none_yet = client.get("/login/continue/")
    other = Client()
    to_password_form(other, "nobody")
    unknown = other.get("/login/continue/")
    assert none_yet.status_code == unknown.status_code == 200

    def shape(response, name):
        html = response.content.decode().replace(name, "X")
        return re.sub(r'value="[^"]*"', "", html)  # CSRF tokens differ

    assert shape(none_yet, "alice") == shape(unknown, "nobody")
    assert "add-authenticator" not in none_yet.content.decode()
    wrong = client.post("/login/continue/", {"password": "wrong"})
    assert wrong.status_code == 200 and b"not right" in wrong.content


def test_login_guesses_spread_over_addresses_are_limited_per_username(user):
    for n in range(30):
        c = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        to_password_form(c)
        assert b"Too many" not in c.post("/login/continue/", {"password": "x"}).content
    late = Client(REMOTE_ADDR="203.0.113.200")
    to_password_form(late)
    refused = late.post("/login/continue/", {"password": PASSWORD})
    assert b"Too many attempts" in refused.content
    assert AuditEvent.objects.filter(action="portal.throttled").count() == 1


def test_email_codes_are_limited_per_user_not_per_session(
    user, django_capture_on_commit_callbacks
):
    guesses = 0
    for n in range(12):
        c = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        to_password_form(c)
        c.post("/login/continue/", {"password": PASSWORD})
        with django_capture_on_commit_callbacks(execute=True):
            c.post("/add/", follow=True)
        for _ in range(5):
            page = c.post("/add/verify/", {"code": "000000"}).content.decode()
            if "not right" in page:
                guesses += 1
            elif "this account" in page:
                break
    assert len(mail.outbox) == 5
    assert guesses == 10
    refusals = AuditEvent.objects.filter(action="portal.throttled")
    assert {e.detail["step"] for e in refusals} == {
        "verification_send",
        "verification_check",
    }


def test_a_locked_user_is_told_why_and_until_when(client, user, make_policy, enroll):
    device = enroll(user, make_policy(push_enabled=False, pin_mode="none"))
    Token.objects.filter(serial=device.serial).update(
        state="locked", locked_until=timezone.now() + timedelta(minutes=10)
    )
    to_password_form(client)
    page = passcode_login(client, device).content.decode()
    assert "locked" in page and re.search(
        r"unlocks by itself in about 1[01] minute", page
    )
    Token.objects.filter(serial=device.serial).update(locked_until=None)
    page = passcode_login(client, device).content.decode()
    assert "Ask your administrator" in page
    # A wrong password learns nothing about the lock.
    wrong = passcode_login(client, device, password="wrong").content.decode()
    assert "locked" not in wrong and "not right" in wrong


def test_a_push_user_with_locked_tokens_is_told_too(client, user, enroll):
    device = enroll(user)
    Token.objects.filter(serial=device.serial).update(state="locked")
    to_password_form(client)
    page = client.post("/login/continue/", {"password": PASSWORD}).content.decode()
    page = passcode_login(client, device).content.decode()
    assert "Ask your administrator" in page


def test_one_address_cannot_cause_unbounded_password_hashing(client, monkeypatch):
    """Fresh usernames dodge the per-name limits: the per-address limit stops
    them before the password is hashed."""
    from tokens.services import portal

    hashed = []
    real = portal.authenticate
    monkeypatch.setattr(
        portal, "authenticate", lambda *a, **kw: hashed.append(1) or real(*a, **kw)
    )
    for i in range(25):
        client.post("/login/", {"username": f"nobody{i}"})
        page = client.post("/login/continue/", {"password": "guess"})
    assert len(hashed) == 20
    assert "Too many attempts" in page.content.decode()


def test_all_unknown_browsers_together_get_a_bounded_number_of_checks(
    settings, monkeypatch
):
    from tokens.services import portal

    settings.TESSERA_UNTRUSTED_LOGINS_PER_MINUTE = 5
    hashed = []
    real = portal.authenticate
    monkeypatch.setattr(
        portal, "authenticate", lambda *a, **kw: hashed.append(1) or real(*a, **kw)
    )
    for i in range(8):
        stranger = Client(REMOTE_ADDR=f"198.51.100.{i + 1}")
        stranger.post("/login/", {"username": f"nobody{i}"})
        stranger.post("/login/continue/", {"password": "guess"})
    assert len(hashed) == 5


def _form_without_name(page: str, username: str) -> str:
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    return page.replace(username, "NAME")


def test_everyone_gets_the_same_password_form_with_the_same_work(
    user, enroll, make_policy
):
    """Unknown users, users without a token, push users and passcode-only
    users: one form, and the same database work, until the password is right
    (it once split them into two forms, and its timing into four groups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get_user_model().objects.create_user("notoken", "n@example.com", PASSWORD)
    push = get_user_model().objects.create_user("pushy", "p@example.com", PASSWORD)
    enroll(push)
    enroll(user, make_policy(push_enabled=False, pin_mode="none"))  # alice
    pages, queries = {}, {}
    for name in ("nobody", "notoken", "pushy", "alice"):
        client = Client()
        client.post("/login/", {"username": name})
        with CaptureQueriesContext(connection) as seen:
            page = client.get("/login/continue/").content.decode()
        pages[name] = _form_without_name(page, name)
        queries[name] = [q["sql"] for q in seen.captured_queries]
    assert len(set(pages.values())) == 1
    assert 'name="passcode"' not in pages["alice"]
    assert not any("auth_user" in sql for sqls in queries.values() for sql in sqls)


def test_a_passcode_only_user_gets_the_passcode_form_after_the_password(
    client, user, enroll, make_policy
):
    device = enroll(user, make_policy(push_enabled=False, pin_mode="none"))
    to_password_form(client)
    wrong = client.post("/login/continue/", {"password": "wrong"})
    assert "password is not right" in wrong.content.decode()
    right = client.post("/login/continue/", {"password": PASSWORD})
    assert right.url == "/login/continue/?method=passcode"
    form = client.get(right.url).content.decode()
    assert 'name="passcode"' in form and 'name="password"' not in form
    done = client.post(right.url, {"passcode": device.code(time.time() + 30)})
    assert done.url == "/authenticators/"


def test_a_push_answer_does_not_reveal_the_users_policy(rp, user, enroll, make_policy):
    enroll(user, make_policy(push_lifetime_seconds=45))

    def offset(username):
        body = rp.post(
            "/api/v1/auth/push",
            {"username": username, "application": "VPN"},
            format="json",
        ).json()
        from tokens.models import PushChallenge

        created = PushChallenge.objects.get(pk=body["id"]).created_at
        from datetime import datetime

        return datetime.fromisoformat(body["expires"]) - created

    assert offset("alice") == offset("nobody")


def test_a_staff_login_from_the_start_page_is_audited_when_the_admin_opens(
    client, root, make_policy, enroll
):
    device = enroll(root, make_policy(push_enabled=False, pin_mode="none"))
    to_password_form(client, "root")  # no next=/admin/: the start page
    assert passcode_login(client, device).url == "/authenticators/"
    assert not AuditEvent.objects.filter(action="admin.login").exists()
    assert client.get("/admin/").status_code == 200
    client.get("/admin/")  # the same session: audited once
    event = AuditEvent.objects.get(action="admin.login")
    assert (event.outcome, event.username, event.serial) == (
        "success",
        "root",
        device.serial,
    )
