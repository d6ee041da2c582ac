"""A stranger who knows only a username cannot keep its user out, and still
guesses no more than before (issue: 30 wrong passwords from 30 addresses, or 5
wrong passcodes through any relying application, locked the user out).

What we chose: a browser that has logged in before keeps its own allowance of
password guesses (OWASP's device cookies); a lock caused by wrong passcodes
refuses passcodes only, so a push approval (which cannot be guessed) still
logs the user in; wrong token-PIN proofs, which come from the phone itself,
still lock approvals too; and the user is emailed when either lock trips."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.portal.test_login_hardening import PASSWORD
from tests.tokens.test_push import answer
from tokens.models import AuditEvent, PushChallenge, Token
from tokens.services.errors import ServiceError

pytestmark = pytest.mark.django_db


def guess_passwords(times: int, username="alice"):
    """Wrong passwords, each from its own address (a botnet)."""
    for i in range(times):
        stranger = Client(REMOTE_ADDR=f"198.51.100.{i + 1}")
        stranger.post("/login/", {"username": username})
        stranger.post(
            "/login/continue/", {"password": f"guess-{i}", "passcode": "000000"}
        )


def passcode_form(client, device, password=PASSWORD):
    """Password and the next HOTP passcode, on the password + passcode form."""
    return client.post(
        "/login/continue/?method=passcode",
        {"password": password, "passcode": device.next_code()},
    )


def logged_in_before(user, device) -> Client:
    """The user's own browser, which completed a login once."""
    browser = Client(REMOTE_ADDR="203.0.113.5")
    browser.post("/login/", {"username": user.get_username()})
    done = passcode_form(browser, device)
    assert done.status_code == 302 and "tessera_device" in browser.cookies
    browser.post("/logout/")
    return browser


def test_a_browser_that_logged_in_before_gets_in_while_strangers_are_refused(
    user, enroll, make_policy, django_capture_on_commit_callbacks
):
    device = enroll(
        user, make_policy(push_enabled=False, pin_mode="none", otp_kind="hotp")
    )
    own = logged_in_before(user, device)
    with django_capture_on_commit_callbacks(execute=True):
        guess_passwords(31)

    # The guessers' side: bounded as before, even with the right password.
    late = Client(REMOTE_ADDR="198.51.100.200")
    late.post("/login/", {"username": "alice"})
    refused = passcode_form(late, device)
    assert "Too many attempts" in refused.content.decode()
    # The user's side: the browser that logged in before still gets in.
    own.post("/login/", {"username": "alice"})
    done = passcode_form(own, device)
    assert done.url == "/authenticators/"
    # ... and the user was told, once.
    alerts = [m for m in mail.outbox if "trying to log in" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == ["alice@example.com"]
    assert AuditEvent.objects.filter(
        action="account.under_attack", username="alice"
    ).exists()


def test_a_trusted_browser_has_its_own_bounded_allowance(user, enroll, make_policy):
    device = enroll(
        user, make_policy(push_enabled=False, pin_mode="none", otp_kind="hotp")
    )
    own = logged_in_before(user, device)
    own.post("/login/", {"username": "alice"})
    for _ in range(10):
        passcode_form(own, device, password="wrong")
    refused = passcode_form(own, device)
    assert "Too many attempts" in refused.content.decode()


@pytest.mark.parametrize("cookie", ["forged", "other-user"])
def test_a_forged_or_foreign_device_cookie_buys_nothing(
    user, enroll, make_policy, cookie
):
    from django.contrib.auth import get_user_model

    from portal.trusted import COOKIE

    device = enroll(
        user, make_policy(push_enabled=False, pin_mode="none", otp_kind="hotp")
    )
    guess_passwords(31)
    browser = Client(REMOTE_ADDR="198.51.100.250")
    if cookie == "forged":
        browser.cookies[COOKIE] = "eyJ1IjoiYWxpY2UifQ:forged:signature"
    else:
        bob = get_user_model().objects.create_user("bob", "b@example.com", PASSWORD)
        bobs = logged_in_before(
            bob,
            enroll(
                bob, make_policy(push_enabled=False, pin_mode="none", otp_kind="hotp")
            ),
        )
        browser.cookies[COOKIE] = bobs.cookies[COOKIE].value
    browser.post("/login/", {"username": "alice"})
    refused = passcode_form(browser, device)
    assert "Too many attempts" in refused.content.decode()


def wrong_passcodes(rp, times: int):
    for _ in range(times):
        body = {"username": "alice", "passcode": "000000"}
        assert rp.post("/api/v1/auth/validate", body, format="json").json() == {
            "result": "reject"
        }


def test_wrong_passcodes_lock_passcodes_but_a_push_still_logs_the_user_in(
    rp, user, enroll, make_policy, django_capture_on_commit_callbacks
):
    device = enroll(user, make_policy(pin_mode="none", lockout_threshold=5))
    with django_capture_on_commit_callbacks(execute=True):
        wrong_passcodes(rp, 5)
    token = Token.objects.get(serial=device.serial)
    assert (token.state, token.lock_reason) == ("locked", "passcodes")
    # Guessing stays as hard: even the right passcode is refused now.
    body = {"username": "alice", "passcode": device.code()}
    assert rp.post("/api/v1/auth/validate", body, format="json").json() == {
        "result": "reject"
    }
    # But a push reaches the phone, and its approval logs the user in.
    started = rp.post(
        "/api/v1/auth/push", {"username": "alice", "application": "VPN"}, format="json"
    ).json()
    challenge = PushChallenge.objects.get(pk=started["id"])
    assert list(challenge.tokens.values_list("serial", flat=True)) == [device.serial]
    assert answer(device, challenge).state == "approved"
    assert PushChallenge.objects.get(pk=started["id"]).state == "approved"
    assert [m.to for m in mail.outbox if "trying to log in" in m.subject] == [
        ["alice@example.com"]
    ]


def test_the_portal_push_login_works_while_passcodes_are_locked(
    rp, client, user, enroll, make_policy
):
    device = enroll(user, make_policy(pin_mode="none", lockout_threshold=5))
    wrong_passcodes(rp, 5)
    client.post("/login/", {"username": "alice"})
    sent = client.post("/login/continue/", {"password": PASSWORD})
    assert sent.url == "/login/push/"
    challenge = PushChallenge.objects.get(username="alice")
    answer(device, challenge)
    assert client.post("/login/push/").url == "/authenticators/"


def test_the_app_is_told_its_passcodes_are_locked_not_its_requests(
    rp, user, enroll, make_policy
):
    from tokens.services.tokeninfo import token_info

    device = enroll(user, make_policy(pin_mode="none", lockout_threshold=2))
    wrong_passcodes(rp, 2)
    info = token_info(Token.objects.get(serial=device.serial))
    assert info["state"] == "passcodes_locked"


def test_wrong_pin_proofs_during_a_passcode_lock_close_approvals_too(
    rp, user, enroll, make_policy
):
    """A copy of the phone's storage must not get unbounded PIN guesses
    through approvals while a stranger holds the passcodes locked."""
    device = enroll(user, make_policy(pin_mode="token", lockout_threshold=3))
    wrong_passcodes(rp, 3)
    started = rp.post(
        "/api/v1/auth/push", {"username": "alice", "application": "VPN"}, format="json"
    ).json()
    challenge = PushChallenge.objects.get(pk=started["id"])
    wrong = f"{(int(device.code()) + 1) % 10**6:06d}"
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge, otp=wrong)
    assert refused.value.code == "wrong_pin"
    token = Token.objects.get(serial=device.serial)
    assert (token.state, token.lock_reason) == ("locked", "proofs")
    with pytest.raises(ServiceError) as closed:
        answer(device, challenge, otp=device.code())
    assert closed.value.code == "token_unusable"


def test_a_fraud_lock_still_stops_pushes(rp, user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="none", push_fraud_lock=True))
    started = rp.post(
        "/api/v1/auth/push", {"username": "alice", "application": "VPN"}, format="json"
    ).json()
    answer(device, PushChallenge.objects.get(pk=started["id"]), "fraud")
    token = Token.objects.get(serial=device.serial)
    assert (token.state, token.lock_reason) == ("locked", "fraud")
    again = rp.post(
        "/api/v1/auth/push", {"username": "alice", "application": "Mail"}, format="json"
    ).json()
    assert not PushChallenge.objects.get(pk=again["id"]).tokens.exists()
