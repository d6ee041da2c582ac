"""Passkeys in the portal, verified with py_webauthn against a software
authenticator: registration in Add Authenticator, login after the password,
passwordless login, rename, removal, and the refusals."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.device_client import unb64u
from tests.portal.test_enrollment_views import code_from_email, start_enrollment
from tests.soft_authenticator import SoftAuthenticator
from tokens.models import AuditEvent, Passkey

pytestmark = pytest.mark.django_db
SITE = "http://localhost:8000"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _localhost(settings):
    settings.SITE_URL = SITE  # WebAuthn needs a domain


def key(**kw) -> SoftAuthenticator:
    return SoftAuthenticator(origin=SITE, rp_id="localhost", **kw)


def post_json(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def options(client, url) -> dict:
    response = post_json(client, url)
    assert response.status_code == 200, response.content
    return json.loads(response.json()["options"])


def register(client, authenticator, name="", **forge):
    opts = options(client, "/add/passkey/options")
    credential = authenticator.register(unb64u(opts["challenge"]), **forge)
    authenticator.user_handle = unb64u(opts["user"]["id"])
    return post_json(
        client, "/add/passkey/finish", {"credential": credential, "name": name}
    )


def enroll_passkey(client, authenticator, django_capture_on_commit_callbacks):
    start_enrollment(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    client.post("/add/verify/", {"code": code_from_email()})
    assert client.post("/add/app/", {"kind": "passkey"}).url == "/add/passkey/"
    assert client.get("/add/passkey/").status_code == 200
    return register(client, authenticator, name="Work laptop")


def login_with_password(client, username="alice"):
    client.post("/login/", {"username": username})
    return client.post("/login/continue/", {"password": PASSWORD})


def assert_with(client, authenticator, options_url, finish_url, **forge):
    opts = options(client, options_url)
    assertion = authenticator.assert_(unb64u(opts["challenge"]), **forge)
    return post_json(client, finish_url, {"credential": assertion})


@pytest.fixture
def passkey_user(client, user, django_capture_on_commit_callbacks):
    authenticator = key()
    done = enroll_passkey(client, authenticator, django_capture_on_commit_callbacks)
    assert done.status_code == 200, done.content
    client.logout()
    return authenticator


def test_add_authenticator_registers_a_passkey_and_logs_in(
    client, user, django_capture_on_commit_callbacks
):
    done = enroll_passkey(client, key(), django_capture_on_commit_callbacks)
    assert done.json() == {"next": "/authenticators/"}
    passkey = Passkey.objects.get(user=user)
    assert passkey.name == "Work laptop" and passkey.user_verified
    page = client.get("/authenticators/").content.decode()
    assert "Work laptop" in page and "Passkeys and security keys" in page
    assert AuditEvent.objects.filter(
        action="passkey.register", outcome="success"
    ).exists()


def test_after_the_password_the_passkey_is_offered_first(client, passkey_user):
    assert login_with_password(client).url == "/login/passkey/"
    page = client.get("/login/passkey/").content.decode()
    assert "Use your passkey" in page
    done = assert_with(
        client, passkey_user, "/login/passkey/options", "/login/passkey/finish"
    )
    assert done.json() == {"next": "/authenticators/"}
    assert client.get("/authenticators/").status_code == 200
    assert Passkey.objects.get().last_used_at is not None


def test_passwordless_login_counts_as_both_factors(passkey_user):
    browser = Client()
    done = assert_with(browser, passkey_user, "/passkey/options", "/passkey/finish")
    assert done.status_code == 200 and done.json()["next"] == "/authenticators/"
    assert browser.get("/authenticators/").status_code == 200
    event = AuditEvent.objects.filter(action="passkey.use").latest("id")
    assert event.detail["passwordless"] is True and event.outcome == "success"


def test_passwordless_login_needs_a_verified_user(passkey_user):
    passkey_user.user_verified = False
    done = assert_with(Client(), passkey_user, "/passkey/options", "/passkey/finish")
    assert done.status_code == 403


@pytest.mark.parametrize(
    "forge",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
    ids=["origin", "rp_id"],
)
def test_a_login_for_another_site_is_refused(client, passkey_user, forge):
    login_with_password(client)
    done = assert_with(
        client, passkey_user, "/login/passkey/options", "/login/passkey/finish", **forge
    )
    assert done.status_code == 403
    assert client.get("/authenticators/").status_code == 302


def test_a_replayed_assertion_is_refused(client, passkey_user):
    login_with_password(client)
    opts = options(client, "/login/passkey/options")
    assertion = passkey_user.assert_(unb64u(opts["challenge"]))
    assert (
        post_json(
            client, "/login/passkey/finish", {"credential": assertion}
        ).status_code
        == 200
    )
    client.logout()
    login_with_password(client)
    options(client, "/login/passkey/options")  # a new challenge; the old answer again
    again = post_json(client, "/login/passkey/finish", {"credential": assertion})
    assert again.status_code == 403


def test_another_users_passkey_does_not_log_in_this_user(
    client, passkey_user, django_capture_on_commit_callbacks
):
    get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    bobs = key()
    mail.outbox.clear()
    bob = Client()
    start_enrollment(bob, "bob")
    with django_capture_on_commit_callbacks(execute=True):
        bob.post("/add/")
    bob.post("/add/verify/", {"code": code_from_email()})
    bob.post("/add/app/", {"kind": "passkey"})
    assert register(bob, bobs).status_code == 200
    login_with_password(client)  # alice's password, then bob's passkey
    done = assert_with(client, bobs, "/login/passkey/options", "/login/passkey/finish")
    assert done.status_code == 403
    refusal = AuditEvent.objects.filter(action="passkey.use", outcome="failure").latest(
        "id"
    )
    assert refusal.detail["reason"] == "another user's passkey"


def test_a_registration_without_user_verification_is_refused_when_required(
    client, user, settings, django_capture_on_commit_callbacks
):
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.passkey_user_verification = "required"
    policy.save()
    done = enroll_passkey(
        client, key(user_verified=False), django_capture_on_commit_callbacks
    )
    assert done.status_code == 400
    assert not Passkey.objects.exists()


def test_the_passkey_page_needs_the_password_first(client, passkey_user):
    client.post("/login/", {"username": "alice"})
    assert client.get("/login/passkey/").url == "/login/continue/"
    assert post_json(client, "/login/passkey/options").status_code == 403


def test_rename_and_removal_with_the_password(client, passkey_user):
    login_with_password(client)
    assert_with(client, passkey_user, "/login/passkey/options", "/login/passkey/finish")
    passkey = Passkey.objects.get()
    client.post(f"/passkeys/{passkey.pk}/rename/", {"name": "Desk key"})
    assert Passkey.objects.get().name == "Desk key"
    wrong = client.post(f"/passkeys/{passkey.pk}/remove/", {"password": "nope"})
    assert b"not right" in wrong.content and Passkey.objects.exists()
    done = client.post(f"/passkeys/{passkey.pk}/remove/", {"password": PASSWORD})
    assert not Passkey.objects.exists()
    # It was this session's second factor: logged out, told why.
    assert done.url == "/"
    home = client.get("/").content.decode()
    assert "The passkey was removed" in home and "Log in again" in home
    assert client.get("/authenticators/").url == "/login/"
    assert AuditEvent.objects.filter(action="passkey.remove").exists()


def test_a_staff_passkey_opens_the_admin(client, django_capture_on_commit_callbacks):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    mail.outbox.clear()
    start_enrollment(client, "root")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    client.post("/add/verify/", {"code": code_from_email()})
    client.post("/add/app/", {"kind": "passkey"})
    authenticator = key()
    assert register(client, authenticator).status_code == 200
    client.logout()
    client.get("/login/?next=/admin/")
    login_with_password(client, "root")
    done = assert_with(
        client, authenticator, "/login/passkey/options", "/login/passkey/finish"
    )
    assert done.json()["next"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.get(action="admin.login").outcome == "success"
