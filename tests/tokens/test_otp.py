"""tokens.services.otp: the one verification path, time injected."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from tokens.models import AuditEvent, Token
from tokens.services import lifecycle
from tokens.services.otp import validate_passcode
from tokens.services.resync import token_resync

pytestmark = pytest.mark.django_db


def check(code, now=None, username="alice"):
    return validate_passcode(
        username=username, passcode=code, source="test", now=now
    ).accepted


@pytest.fixture
def device(user, enroll):
    return enroll(user)


def later(steps=1):
    return time.time() + 30 * steps


def test_a_code_is_accepted_once(device):
    now = later()
    assert check(device.code(now), now)
    assert not check(device.code(now), now)
    assert AuditEvent.objects.filter(action="otp.validate", outcome="failure").exists()


def test_codes_within_the_window_are_accepted_and_outside_are_not(device):
    now = later(3)
    assert not check(device.code(now - 60), now)  # two steps behind, window is 1
    assert check(device.code(now - 30), now)
    assert check(device.code(now + 30), now)


def test_an_older_step_is_refused_after_a_newer_one(device):
    now = later(3)
    assert check(device.code(now), now)
    assert not check(device.code(now - 30), now)


def test_failures_lock_the_token_at_the_threshold(device):
    for _ in range(5):
        assert not check("000000" if device.code() != "000000" else "111111")
    token = Token.objects.get()
    assert token.state == "locked" and token.locked_until is not None
    assert not check(device.code(later()), later())
    assert AuditEvent.objects.filter(action="token.lock").count() == 1


def test_success_resets_the_failure_count(device):
    assert not check("000000" if device.code() != "000000" else "111111")
    assert Token.objects.get().failure_count == 1
    assert check(device.code(later()), later())
    assert Token.objects.get().failure_count == 0


def test_a_locked_token_unlocks_itself_after_the_policy_delay(
    user, enroll, make_policy
):
    device = enroll(user, make_policy(lockout_threshold=2, auto_unlock_minutes=10))
    for _ in range(2):
        check("99999999"[:6])
    token = Token.objects.get()
    assert token.state == "locked"
    Token.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert check(device.code(later()), later())
    assert Token.objects.get().state == "active"


@pytest.mark.parametrize("action", ["token_suspend", "token_revoke"])
def test_suspended_and_revoked_tokens_are_refused(device, action):
    getattr(lifecycle, action)(token=Token.objects.get(), actor="test")
    assert not check(device.code(later()), later())
    assert Token.objects.get().failure_count == 0


def test_a_resumed_token_works_again(device):
    token = Token.objects.get()
    lifecycle.token_suspend(token=token, actor="test")
    lifecycle.token_resume(token=token, actor="test")
    assert Token.objects.get().state == "active"
    assert check(device.code(later()), later())


def test_an_unconfirmed_token_accepts_nothing(user, api):
    from tests.device_client import Device
    from tokens.services.enrollment import token_assign

    issued = token_assign(user=user, actor="test")
    device = Device()
    answer = api.post(
        "/api/v1/device/activate",
        device.activate_body(issued.activation_string),
        format="json",
    )
    device.accept_activation(issued.activation_string, answer.json())
    assert not check(device.code())


def test_server_pin_comes_before_the_passcode(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="server"), server_pin="4821")
    now = later()
    assert not check(device.code(now), now)  # passcode alone
    assert not check("9999" + device.code(now), now)  # wrong PIN
    assert check("4821" + device.code(now), now)  # the wrong PIN did not consume it


def test_a_wrong_server_pin_counts_as_a_failure(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="server"), server_pin="4821")
    check("1111" + device.code(later()), later())
    assert Token.objects.get().failure_count == 1


def test_after_a_pin_reset_the_next_pin_becomes_the_pin(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="server"), server_pin="4821")
    lifecycle.token_reset_server_pin(token=Token.objects.get(), actor="test")
    now = later()
    assert check("7777" + device.code(now), now)
    now = later(2)
    assert not check("4821" + device.code(now), now)
    assert check("7777" + device.code(now), now)


def test_hotp_accepts_codes_ahead_within_the_look_ahead(user, enroll, make_policy):
    device = enroll(user, make_policy(otp_kind="hotp"))
    assert check(device.code(counter=5))
    assert not check(device.code(counter=3))  # behind the counter now
    assert check(device.code(counter=6))
    assert not check(device.code(counter=40))  # beyond the look-ahead


def test_hotp_resync_from_two_consecutive_codes(user, enroll, make_policy):
    device = enroll(user, make_policy(otp_kind="hotp"))
    token = Token.objects.get()
    assert not token_resync(
        token=token,
        first=device.code(counter=200),
        second=device.code(counter=202),
        actor="test",
    )
    assert token_resync(
        token=token,
        first=device.code(counter=200),
        second=device.code(counter=201),
        actor="test",
    )
    assert Token.objects.get().counter == 202
    assert check(device.code(counter=202))


def test_totp_resync_learns_the_clock_drift(device):
    token = Token.objects.get()
    skew = 30 * 20  # the phone is ten minutes fast
    now = time.time()
    assert token_resync(
        token=token,
        first=device.code(now + skew),
        second=device.code(now + skew + 30),
        actor="test",
        now=now,
    )
    later_now = now + 60
    assert check(device.code(later_now + skew), later_now)


@pytest.mark.django_db(transaction=True)
def test_the_same_code_on_twenty_connections_is_accepted_once(user, enroll):
    device = enroll(user)
    now = later()
    code = device.code(now)
    results, barrier = [], threading.Barrier(20)

    def attempt():
        try:
            barrier.wait()
            results.append(check(code, now))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert results.count(True) == 1


def wrong(device) -> str:
    return "000000" if device.code() != "000000" else "111111"


def test_each_lockout_doubles_the_lock_up_to_the_cap(user, enroll, make_policy):
    """Five wrong codes from any API client lock a user for minutes, not for
    good; a persistent attacker gets longer locks, never a permanent one."""
    enroll(
        user,
        make_policy(
            lockout_threshold=2, auto_unlock_minutes=5, auto_unlock_max_minutes=30
        ),
    )
    lengths = []
    for _ in range(4):
        for _ in range(2):
            check("999999")
        token = Token.objects.get()
        assert token.state == "locked"
        lengths.append(
            round((token.locked_until - timezone.now()).total_seconds() / 60)
        )
        Token.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
        check("999999")  # unlocks on the way (and counts one failure)
        Token.objects.update(failure_count=0)
    assert lengths == [5, 10, 20, 30]


def test_a_success_resets_the_doubling(user, enroll, make_policy):
    device = enroll(user, make_policy(lockout_threshold=2, auto_unlock_minutes=5))
    for _ in range(2):
        check(wrong(device))
    Token.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert check(device.code(later()), later())
    assert Token.objects.get().lockouts == 0
    for _ in range(2):
        check(wrong(device))
    token = Token.objects.get()
    assert round((token.locked_until - timezone.now()).total_seconds() / 60) == 5


def test_a_policy_may_still_lock_for_good(user, enroll, make_policy):
    enroll(user, make_policy(lockout_threshold=2, auto_unlock_minutes=0))
    for _ in range(2):
        check("999999")
    token = Token.objects.get()
    assert token.state == "locked" and token.locked_until is None


def test_the_default_policy_locks_temporarily():
    from tokens.selectors import policy_default

    assert policy_default().auto_unlock_minutes == 5


def test_an_unknown_user_costs_the_same_work_as_a_wrong_code(device, monkeypatch):
    """Timing must not tell who exists: the same statements, and a seed
    decryption and the window's HMACs, for both (no wall-clock asserted)."""
    from tokens.services import keys

    opened = []
    real_open = keys.open_seed
    monkeypatch.setattr(
        keys, "open_seed", lambda *a, **kw: opened.append(1) or real_open(*a, **kw)
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as known:
        assert not check(wrong(device))
    with CaptureQueriesContext(connection) as unknown:
        assert not check(wrong(device), username="nobody")
    shape = lambda q: q["sql"].split()[0]  # noqa: E731
    assert [shape(q) for q in known] == [shape(q) for q in unknown]
    assert opened == [1, 1]


def test_django_otps_match_token_checks_a_passcode_once(user, enroll, make_policy):
    """django-otp's own entry points (``match_token``, ``Device.verify_token``)
    reach the one passcode check, which the model does not import."""
    from django_otp import match_token

    device = enroll(user, make_policy(pin_mode="none", push_enabled=False))
    code = device.code(time.time() + 30)
    token = match_token(user, code)
    assert token is not None and token.serial == device.serial
    assert match_token(user, code) is None  # spent
    assert AuditEvent.objects.filter(
        action="otp.validate", source="django-otp", outcome="success"
    ).exists()
