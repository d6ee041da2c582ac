"""No state of one person's journey ever carries over to another name.

The outside probe's attack, step by step, and one test per multi-step flow
(add authenticator, lost phone, passkey login, push login, backup codes,
admin) that types another username midway and finds the journey started
afresh."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.portal.test_enrollment_views import code_from_email, start_enrollment
from tests.portal.test_login_hardening import PASSWORD, passcode_login
from tokens.models import AuditEvent, Passkey, Token
from tokens.services.backup import backup_codes_generate
from tokens.services.verification import USER_SENDS_PER_HOUR

pytestmark = pytest.mark.django_db
VICTIM_PASSWORD = "the admin's own password"


@pytest.fixture
def mallory(db):
    return get_user_model().objects.create_user(
        "mallory", "mallory@example.com", PASSWORD
    )


@pytest.fixture
def victim(db, enroll):
    root = get_user_model().objects.create_superuser(
        "root", "root@example.com", VICTIM_PASSWORD
    )
    enroll(root)
    return root


def mallory_verified_her_own_email(client, callbacks):
    """Mallory, with no authenticator, passes Add Authenticator's code."""
    start_enrollment(client, "mallory", PASSWORD)
    with callbacks(execute=True):
        client.post("/add/")
    assert client.post("/add/verify/", {"code": code_from_email()}).url == (
        "/add/password/"
    )


def switch_to(client, username: str):
    client.post("/login/", {"username": username})


def assert_no_factor_can_be_added(client):
    assert client.get("/add/app/").url == "/add/"
    assert client.get("/add/passkey/").url == "/add/"
    refused = client.post("/add/passkey/options")
    assert refused.status_code == 403
    assert client.post("/add/platform/", {"platform": "android"}).url == "/add/"


def test_the_probes_attack_leaves_the_victim_untouched(
    client, mallory, victim, django_capture_on_commit_callbacks
):
    mallory_verified_her_own_email(client, django_capture_on_commit_callbacks)
    switch_to(client, "root")
    # "I lost my phone" with the victim's password, while the resend limit
    # would have refused a new code under the old, shared state.
    with django_capture_on_commit_callbacks(execute=True):
        lost = client.post("/login/lost/", {"password": VICTIM_PASSWORD})
    assert lost.url == "/login/lost/verify/"
    assert mail.outbox[-1].to == ["root@example.com"]  # a code for the victim

    assert_no_factor_can_be_added(client)
    assert not Passkey.objects.filter(user=victim).exists()
    assert Token.objects.filter(user=victim).count() == 1
    assert "_auth_user_id" not in client.session


def test_a_victims_exhausted_send_limit_gives_no_verified_state(
    client, mallory, victim, django_capture_on_commit_callbacks
):
    mallory_verified_her_own_email(client, django_capture_on_commit_callbacks)
    from tokens.services.throttle import allow

    for _ in range(USER_SENDS_PER_HOUR):  # the victim's hourly sends used up
        allow("verification_send", "root", limit=USER_SENDS_PER_HOUR, window=3600)
    switch_to(client, "root")
    refused = client.post("/login/lost/", {"password": VICTIM_PASSWORD})

    assert refused.status_code == 200
    assert "Too many codes were sent" in refused.content.decode()
    assert client.get("/login/lost/verify/").url == "/login/"
    assert_no_factor_can_be_added(client)


def test_add_authenticator_starts_afresh_for_another_name(
    client, mallory, victim, django_capture_on_commit_callbacks
):
    mallory_verified_her_own_email(client, django_capture_on_commit_callbacks)
    switch_to(client, "root")
    assert client.get("/add/verify/").url == "/add/"
    assert client.get("/add/password/").url == "/add/"
    assert client.get("/add/").url == "/login/"  # no one's wizard in this session
    assert_no_factor_can_be_added(client)


def test_a_code_emailed_for_one_user_does_not_verify_another(
    client, user, victim, django_capture_on_commit_callbacks
):
    start_enrollment(client)  # alice has no token: her password starts Add
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    alices_code = code_from_email()
    switch_to(client, "root")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/login/lost/", {"password": VICTIM_PASSWORD})
    wrong = client.post("/login/lost/verify/", {"code": alices_code})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert Token.objects.get(user=victim).state == "active"


def test_the_lost_phone_step_is_dropped_when_another_name_is_typed(
    client, user, victim, enroll, django_capture_on_commit_callbacks
):
    enroll(user)
    switch_to(client, "alice")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/login/lost/", {"password": PASSWORD})
    code = code_from_email()
    switch_to(client, "root")
    assert client.post("/login/lost/verify/", {"code": code}).url == "/login/"
    assert not Token.objects.filter(state="suspended").exists()
    assert_no_factor_can_be_added(client)


def test_a_passkey_challenge_is_not_answered_for_another_name(client, user, victim):
    client.post("/login/", {"username": "alice"})
    session = client.session
    session["tessera_password_checked"] = {"username": "alice", "at": 9e12}
    session.save()
    assert client.post("/login/passkey/options").status_code == 200
    switch_to(client, "root")
    finish = client.post(
        "/login/passkey/finish",
        json.dumps({"credential": {}}),
        content_type="application/json",
    )
    assert finish.status_code == 403
    assert "_auth_user_id" not in client.session


def test_a_push_login_waits_only_for_the_name_it_was_sent_for(
    client, user, victim, enroll, django_capture_on_commit_callbacks
):
    enroll(user)
    switch_to(client, "alice")
    assert client.post("/login/continue/", {"password": PASSWORD}).url == (
        "/login/push/"
    )
    switch_to(client, "root")
    assert client.get("/login/push/").url == "/login/"
    assert client.post("/login/push/").url == "/login/"


def test_a_password_typed_for_one_name_is_not_reused_for_backup_codes(
    client, user, victim, enroll
):
    enroll(user)
    codes = backup_codes_generate(user=victim, actor="test")
    switch_to(client, "alice")
    client.post("/login/continue/", {"password": PASSWORD})  # alice's push sent
    switch_to(client, "root")
    form = client.get("/login/backup/").content.decode()
    assert 'name="password"' in form  # root's password was never typed here
    refused = client.post("/login/backup/", {"code": codes[0]})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_admin_door_does_not_open_for_a_switched_name(
    client, mallory, victim, enroll, make_policy
):
    device = enroll(mallory, make_policy(push_enabled=False, pin_mode="none"))
    client.get("/login/?next=/admin/")
    switch_to(client, "root")
    switch_to(client, "mallory")
    done = passcode_login(client, device)
    assert done.url == "/admin/"
    assert client.get("/admin/").status_code == 302  # mallory is not staff
    event = AuditEvent.objects.get(action="admin.login")
    assert (event.outcome, event.username) == ("failure", "mallory")
