"""When the phone is not at hand: backup codes (portal and validate API) and
"I lost my phone", through the real portal views."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django_otp.plugins.otp_static.models import StaticToken

from tests.portal.test_login_hardening import PASSWORD, to_password_form
from tokens.models import AuditEvent, Token
from tokens.services.backup import backup_codes_generate

pytestmark = pytest.mark.django_db


def codes_from(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-9]{10})</code></li>", page)


def push_login_started(client):
    """Username and password typed; the push is on its way to the phone."""
    to_password_form(client)
    sent = client.post("/login/continue/", {"password": PASSWORD})
    assert sent.url == "/login/push/"


def test_backup_codes_are_shown_once_stored_as_digests_and_regenerated(
    client, user, enroll
):
    device = enroll(user)
    token = Token.objects.get(serial=device.serial)
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = token.persistent_id
    session.save()
    offer = client.get("/authenticators/backup-codes/").content.decode()
    assert "Make my backup codes" in offer and "You have 0 unused" in offer

    shown = client.post("/authenticators/backup-codes/")
    assert "no-store" in shown["Cache-Control"]  # shown once, kept nowhere
    first = codes_from(shown.content.decode())

    assert len(first) == 10 and len(set(first)) == 10
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(first)  # digests, never codes
    assert (
        "You have 10 unused"
        in client.get("/authenticators/backup-codes/").content.decode()
    )
    second = codes_from(client.post("/authenticators/backup-codes/").content.decode())
    assert not set(first) & set(second)
    assert StaticToken.objects.count() == 10  # the first set no longer works
    assert AuditEvent.objects.filter(action="backup.generate").count() == 2


def test_a_backup_code_logs_in_once_when_the_phone_is_away(client, user, enroll):
    enroll(user)
    codes = backup_codes_generate(user=user, actor="test")
    push_login_started(client)
    page = client.get("/login/push/").content.decode()
    assert 'id="use-backup"' in page and 'id="lost-phone"' in page

    form = client.get("/login/backup/").content.decode()
    assert 'name="password"' not in form  # typed a moment ago
    wrong = client.post("/login/backup/", {"code": "abcdefghjk"})
    assert "not right" in wrong.content.decode()
    done = client.post("/login/backup/", {"code": codes[0].upper()})

    assert done.url == "/authenticators/"
    assert client.get("/authenticators/").status_code == 200
    assert StaticToken.objects.count() == 9
    client.post("/logout/")
    to_password_form(client)
    again = client.post("/login/backup/", {"password": PASSWORD, "code": codes[0]})
    assert (
        again.status_code == 200 and "not right, or was used" in again.content.decode()
    )
    outcomes = list(
        AuditEvent.objects.filter(action="backup.use")
        .order_by("id")
        .values_list("outcome", flat=True)
    )
    assert outcomes == ["failure", "success", "failure"]


def test_without_a_recent_password_the_backup_page_asks_for_it(client, user, enroll):
    enroll(user)
    codes = backup_codes_generate(user=user, actor="test")
    to_password_form(client)
    form = client.get("/login/backup/").content.decode()
    assert 'name="password"' in form
    refused = client.post("/login/backup/", {"password": "wrong", "code": codes[0]})
    assert "password is not right" in refused.content.decode()
    assert StaticToken.objects.count() == 10  # a wrong password spends nothing
    done = client.post("/login/backup/", {"password": PASSWORD, "code": codes[0]})
    assert done.url == "/authenticators/"


def test_validate_takes_backup_codes_only_where_the_policy_allows(
    rp, user, enroll, make_policy
):
    policy = make_policy(push_enabled=False, pin_mode="none")
    enroll(user, policy)
    codes = backup_codes_generate(user=user, actor="test")

    def validate(code):
        body = {"username": "alice", "passcode": code}
        return rp.post("/api/v1/auth/validate", body, format="json").json()

    assert validate(codes[0]) == {"result": "reject"}
    policy.backup_codes_validate = True
    policy.save()
    assert validate(codes[0]) == {"result": "accept"}
    assert validate(codes[0]) == {"result": "reject"}  # once
    assert AuditEvent.objects.filter(
        action="backup.use", outcome="success", source="api"
    ).exists()


def test_i_lost_my_phone_suspends_it_and_leads_to_a_new_enrollment(
    client, user, enroll, django_capture_on_commit_callbacks
):
    old = enroll(user)
    push_login_started(client)
    start = client.get("/login/lost/").content.decode()
    assert "suspended at once" in start and 'name="password"' not in start

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/login/lost/")

    assert sent.url == "/login/lost/verify/"
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert Token.objects.get(serial=old.serial).state == "active"  # not yet
    wrong = client.post("/login/lost/verify/", {"code": "000000"})
    assert "not right" in wrong.content.decode()
    done = client.post("/login/lost/verify/", {"code": code})

    assert done.url == "/add/app/"
    assert Token.objects.get(serial=old.serial).state == "suspended"
    event = AuditEvent.objects.get(action="portal.lost_device")
    assert event.detail["suspended"] == [old.serial]
    assert AuditEvent.objects.filter(
        action="token.suspend", serial=old.serial, actor="user:alice"
    ).exists()
    # The wizard goes on with both checks done: a new token for the new phone.
    client.post("/add/app/", {"kind": "app"})
    setup = client.post("/add/platform/", {"platform": "android"})
    assert setup.url == "/add/setup/"
    new = Token.objects.filter(user=user).exclude(serial=old.serial).get()
    assert new.state == "assigned"


def test_backup_code_guesses_after_one_password_are_bounded(client, user, enroll):
    from tokens.services.backup import GUESSES

    enroll(user)
    codes = backup_codes_generate(user=user, actor="test")
    push_login_started(client)
    for _ in range(GUESSES):
        wrong = client.post("/login/backup/", {"code": "abcdefghjk"})
        assert "not right" in wrong.content.decode()
    refused = client.post("/login/backup/", {"code": codes[0]})

    assert "Too many attempts" in refused.content.decode()
    assert StaticToken.objects.count() == 10  # the right code was not even tried
    assert AuditEvent.objects.filter(
        action="backup.use", outcome="failure", detail__reason="throttled"
    ).exists()
