"""Django admin as the operator's console, through the real admin views."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model

from tokens.models import ApiClient, AuditEvent, Policy, Token

pytestmark = pytest.mark.django_db


def verified_login(client, user, token) -> None:
    """A session that passed both factors, as the portal leaves it."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = token.persistent_id
    session.save()


@pytest.fixture
def staff(client, db, enroll):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    device = enroll(admin)
    verified_login(client, admin, Token.objects.get(serial=device.serial))
    return client


def act(client, url, action, pks, **extra):
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: pks, **extra})


def test_assign_token_action_asks_for_a_policy_then_shows_the_activation(
    staff, user, django_capture_on_commit_callbacks
):
    from django.core import mail

    url = "/admin/auth/user/"
    form = act(staff, url, "assign_token", [user.pk])
    assert form.status_code == 200 and b"Assign" in form.content
    policy = Policy.objects.get(is_default=True)
    with django_capture_on_commit_callbacks(execute=True):
        done = act(staff, url, "assign_token", [user.pk], apply="1", policy=policy.pk)
    token = Token.objects.get(user=user)
    page = done.content.decode()
    assert token.serial in page and "/enroll/" in page and "activation-string" in page
    assert AuditEvent.objects.filter(action="token.assign", actor="admin:root").exists()
    assert len(mail.outbox) == 1 and "/enroll/" in mail.outbox[0].body  # notification


def test_lifecycle_actions_change_state_and_audit(staff, user, enroll):
    enroll(user)
    token = Token.objects.get(user=user)
    url = "/admin/tokens/token/"
    act(staff, url, "suspend", [token.pk])
    assert Token.objects.get(user=user).state == "suspended"
    act(staff, url, "resume", [token.pk])
    assert Token.objects.get(user=user).state == "active"
    Token.objects.update(state="locked", failure_count=5)
    act(staff, url, "unlock", [token.pk])
    token.refresh_from_db()
    assert token.state == "active" and token.failure_count == 0
    act(staff, url, "revoke", [token.pk])
    token.refresh_from_db()
    assert token.state == "revoked" and token.seed_encrypted == ""
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"token.suspend", "token.resume", "token.unlock", "token.revoke"} <= actions


def test_resync_action_takes_two_codes(staff, user, enroll, make_policy):
    device = enroll(user, make_policy(otp_kind="hotp"))
    token = Token.objects.get(user=user)
    url = "/admin/tokens/token/"
    assert b"consecutive" in act(staff, url, "resync", [token.pk]).content
    act(
        staff,
        url,
        "resync",
        [token.pk],
        apply="1",
        first=device.code(counter=50),
        second=device.code(counter=51),
    )
    assert Token.objects.get(user=user).counter == 52


def test_token_pages_never_show_the_seed(staff, user, enroll):
    device = enroll(user)
    token = Token.objects.get(user=user)
    page = staff.get(f"/admin/tokens/token/{token.pk}/change/").content.decode()
    assert token.serial in page
    assert token.seed_encrypted not in page and device.seed.hex() not in page
    listing = staff.get("/admin/tokens/token/?state__exact=active&q=alice")
    assert token.serial in listing.content.decode()


def test_the_audit_log_is_read_only(staff, user, enroll):
    enroll(user)
    event = AuditEvent.objects.first()
    assert staff.get("/admin/tokens/auditevent/").status_code == 200
    assert (
        staff.get("/admin/tokens/auditevent/?outcome__exact=success").status_code == 200
    )
    assert staff.get("/admin/tokens/auditevent/add/").status_code == 403
    staff.post(f"/admin/tokens/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_api_client_key_is_shown_once_and_stored_as_digest(staff):
    response = staff.post("/admin/tokens/apiclient/add/", {"name": "SSO"})
    key = response.context["key"]
    assert key.startswith("tsk_") and key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    client = ApiClient.objects.get(name="SSO")
    assert key not in client.key_digest
    page = staff.get(f"/admin/tokens/apiclient/{client.pk}/change/").content.decode()
    assert key not in page


def test_push_requests_are_listed_read_only(staff, user, enroll):
    from tokens.models import PushChallenge
    from tokens.services.push import push_create

    enroll(user)
    challenge = push_create(
        username="alice", application="VPN", source="api", ip="203.0.113.7"
    )
    listing = staff.get("/admin/tokens/pushchallenge/?state__exact=pending")
    assert listing.status_code == 200 and b"203.0.113.7" in listing.content
    detail = staff.get(f"/admin/tokens/pushchallenge/{challenge.pk}/change/")
    assert detail.status_code == 200
    assert staff.get("/admin/tokens/pushchallenge/add/").status_code == 403
    PushChallenge.objects.update(expires_at=challenge.created_at)
    assert (
        b'<td class="field-outcome">expired</td>'
        in staff.get("/admin/tokens/pushchallenge/").content
    )
    staff.post(f"/admin/tokens/pushchallenge/{challenge.pk}/delete/", {"post": "yes"})
    assert PushChallenge.objects.filter(pk=challenge.pk).exists()


def test_the_policy_form_has_the_push_fatigue_settings(staff):
    page = staff.get("/admin/tokens/policy/add/").content.decode()
    assert 'name="push_deny_cooldown_seconds"' in page
    assert 'name="push_fraud_lock"' in page


def test_the_policy_form_sets_user_verification_and_passkeys(staff):
    """Both were settable only from a shell; the form shows and saves them."""
    from tokens.selectors import policy_default

    policy = policy_default()
    url = f"/admin/tokens/policy/{policy.pk}/change/"
    page = staff.get(url).content.decode()
    assert 'name="user_verification"' in page
    assert 'name="passkey_user_verification"' in page
    form = {
        field: value
        for field, value in Policy.objects.filter(pk=policy.pk).values()[0].items()
        if field not in ("id",)
    }
    form = {k: ("on" if v is True else v) for k, v in form.items() if v is not False}
    form.update(user_verification="required", passkey_user_verification="required")
    response = staff.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert policy.user_verification == "required"
    assert policy.passkey_user_verification == "required"
