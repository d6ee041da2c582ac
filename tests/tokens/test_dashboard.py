"""The admin dashboard and a user's overview, against known data."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.tokens.test_admin import staff  # noqa: F401 - fixture
from tokens.models import AuditEvent, Enrollment, PushChallenge, Token
from tokens.selectors import policy_default
from tokens.services.audit import audit_record
from tokens.services.enrollment import token_assign

pytestmark = pytest.mark.django_db


def figure(page: str, name: str) -> int:
    return int(re.search(rf'id="{name}">(\d+)<', page).group(1))


def push(username, state, *, days_ago=0, fraud=False):
    now = timezone.now() - timedelta(days=days_ago)
    return PushChallenge.objects.create(
        id=uuid.uuid4(),
        username=username,
        application="VPN",
        application_key=f"vpn-{uuid.uuid4()}",
        source="api",
        state=state,
        fraud=fraud,
        created_at=now,
        expires_at=now + timedelta(minutes=2),
    )


def legend(chart: str, key: str) -> int:
    return int(re.search(rf'data-legend="{key}">(\d+)<', chart).group(1))


def test_the_dashboard_shows_the_figures_of_known_data(staff, user, enroll):  # noqa: F811
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    enroll(user)  # active
    locked = Token.objects.get(serial=enroll(bob).serial)
    locked.state, locked.locked_until = "locked", None
    locked.save()
    token_assign(user=bob, policy=policy_default(), actor="test")  # assigned, pending
    stale = token_assign(user=user, policy=policy_default(), actor="test")
    Enrollment.objects.filter(pk=stale.enrollment.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    for state, days, fraud in [
        ("approved", 0, False),
        ("approved", 3, False),
        ("denied", 0, False),
        ("denied", 1, True),
        ("expired", 13, False),
        ("approved", 20, False),  # older than 14 days: not shown
    ]:
        push("alice", state, days_ago=days, fraud=fraud)
    for hours_ago in (0, 0, 5, 46, 60):  # the last is older than 48 hours
        event = audit_record(action="otp.validate", outcome="failure", username="x")
        AuditEvent.objects.filter(pk=event.pk).update(
            created_at=timezone.now() - timedelta(hours=hours_ago)
        )

    page = staff.get("/admin/").content.decode()

    assert "Tessera administration" in page
    root_token = 1  # the staff user's own token, active
    assert figure(page, "fig-tokens-active") == 1 + root_token
    assert figure(page, "fig-tokens-locked") == 1
    assert figure(page, "fig-tokens-assigned") == 2
    assert figure(page, "fig-enroll-pending") == 1
    assert figure(page, "fig-enroll-expired") == 1
    pushes = page.split('id="chart-pushes"')[1].split('id="chart-failures"')[0]
    assert (legend(pushes, "approved"), legend(pushes, "denied")) == (2, 1)
    assert (legend(pushes, "fraud"), legend(pushes, "expired")) == (1, 1)
    assert pushes.count('class="bar"') == 14
    failures = page.split('id="chart-failures"')[1]
    assert legend(failures, "failed validations") == 4
    assert failures.count('class="bar"') == 48
    assert "<script" not in pushes + failures  # drawn on the server
    assert locked.serial in page.split('id="locked-tokens"')[1]


def test_one_click_unlock_from_the_dashboard_is_audited(staff, user, enroll):  # noqa: F811
    token = Token.objects.get(serial=enroll(user).serial)
    Token.objects.filter(pk=token.pk).update(state="locked", failure_count=5)

    done = staff.post(f"/admin/tessera/unlock/{token.pk}/", follow=True)

    token.refresh_from_db()
    assert token.state == "active" and token.failure_count == 0
    assert f"Unlocked {token.serial}" in done.content.decode()
    assert 'id="no-locked"' in done.content.decode()
    assert AuditEvent.objects.filter(
        action="token.unlock", serial=token.serial, actor="admin:root"
    ).exists()
    assert staff.get(f"/admin/tessera/unlock/{token.pk}/").status_code == 405


def test_the_user_page_lists_tokens_passkeys_and_recent_audit(staff, user, enroll):  # noqa: F811
    token = Token.objects.get(serial=enroll(user).serial)
    audit_record(action="otp.validate", outcome="success", username="alice")
    push("alice", "denied", fraud=True)

    page = staff.get(f"/admin/tessera/users/{user.pk}/").content.decode()

    assert token.serial in page.split('id="user-tokens"')[1]
    assert "otp.validate" in page.split('id="user-audit"')[1]
    assert "reported as fraud" in page and "No passkeys." in page
    tokens = staff.get(f"/admin/tokens/token/?user__id__exact={user.pk}")
    assert tokens.status_code == 200 and token.serial in tokens.content.decode()
    listing = staff.get("/admin/auth/user/").content.decode()
    assert f"/admin/tessera/users/{user.pk}/" in listing


def test_the_dashboard_pages_need_the_admin(client, user):
    client.force_login(user)
    for url in ("/admin/", f"/admin/tessera/users/{user.pk}/"):
        answer = client.get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")
    assert client.post("/admin/tessera/unlock/1/").status_code == 302
