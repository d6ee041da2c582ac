"""Moving a token to a new device: the old one keeps working until the new
one confirms; an abandoned move leaves it as it was (issue 23, item 3)."""

from __future__ import annotations

import time

import pytest

from tests.device_client import Device
from tokens.models import Enrollment, Token
from tokens.selectors import policy_default
from tokens.services.enrollment import enrollment_issue
from tokens.services.otp import validate_passcode


@pytest.fixture
def policy(db):
    policy = policy_default()
    policy.pin_mode, policy.push_enabled, policy.fingerprint = "none", False, "disabled"
    policy.save()
    return policy


def token_of(device) -> Token:
    return Token.objects.get(serial=device.serial)


def start_move(api, old) -> tuple[Device, str]:
    issued = enrollment_issue(token=token_of(old), actor="user:alice", notify=False)
    new = Device()
    answer = api.post(
        "/api/v1/device/activate",
        new.activate_body(issued.activation_string, name="New phone"),
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    new.accept_activation(issued.activation_string, answer.json())
    return new, issued.activation_string


def accepted(device, at: float) -> bool:
    return validate_passcode(
        username="alice", passcode=device.code(now=at), source="test", now=at
    ).accepted


def test_the_old_phone_works_until_the_new_one_confirms(api, user, enroll, policy):
    old = enroll(user)
    new, _ = start_move(api, old)
    token = token_of(old)
    assert token.state == "active" and token.device_name == "Test phone"
    now = time.time()
    assert accepted(old, now + 30)  # the old phone still logs in
    assert not accepted(new, now + 60)  # the new one not yet
    confirm = api.post(
        "/api/v1/device/confirm", new.confirm_body(now=now), format="json"
    )
    assert confirm.status_code == 200, confirm.json()
    token = token_of(old)
    assert token.state == "active" and token.device_name == "New phone"
    assert not accepted(old, now + 90)
    assert accepted(new, now + 90)
    staged = Enrollment.objects.filter(token=token).last()
    assert staged.staged_device_key is None and not staged.staged_seed


def test_an_abandoned_move_leaves_the_old_phone_as_it_was(api, user, enroll, policy):
    old = enroll(user)
    new, _ = start_move(api, old)
    for _ in range(policy.activation_attempts):  # the new phone fails to confirm
        body = new.confirm_body()
        body["otp"] = "000000" if body["otp"] != "000000" else "111111"
        body["signature"] = new.sign(f"tessera/v1/confirm|{new.serial}|{body['otp']}|")
        assert api.post("/api/v1/device/confirm", body, format="json").status_code
    token = token_of(old)
    assert token.state == "active" and token.failure_count == 0
    assert accepted(old, time.time() + 30)
    refused = api.post("/api/v1/device/confirm", new.confirm_body(), format="json")
    assert refused.status_code == 400


def test_the_old_device_cannot_confirm_the_move_for_the_new_one(
    api, user, enroll, policy
):
    old = enroll(user)
    new, _ = start_move(api, old)
    body = new.confirm_body()
    text = f"tessera/v1/confirm|{new.serial}|{body['otp']}|"
    body["signature"] = old.sign(text)  # the right code, the wrong key
    refused = api.post("/api/v1/device/confirm", body, format="json")
    assert refused.json()["error"] == "invalid_signature"
    assert token_of(old).device_name == "Test phone"


def test_the_move_restarts_with_the_same_string_on_a_third_phone(
    api, user, enroll, policy
):
    """An activation the new phone began but never confirmed can be taken up
    again (the string works until it is used, once)."""
    old = enroll(user)
    _, activation = start_move(api, old)
    third = Device()
    answer = api.post(
        "/api/v1/device/activate",
        third.activate_body(activation, name="Third phone"),
        format="json",
    )
    assert answer.status_code == 200
    third.accept_activation(activation, answer.json())
    assert (
        api.post(
            "/api/v1/device/confirm", third.confirm_body(), format="json"
        ).status_code
        == 200
    )
    assert token_of(old).device_name == "Third phone"


def test_tokens_are_named_for_what_they_are_for_then_the_device(
    api, user, enroll, make_policy
):
    """Two tokens of one user on two Android phones can be told apart; a
    token of a named policy says what it is for."""
    policy_default().save()
    first = token_of(enroll(user))
    second = token_of(enroll(user))
    assert first.name == "Tessera · Test phone"
    assert second.name == f"Tessera · Test phone ({second.serial[-4:]})"
    vpn = token_of(enroll(user, policy=make_policy(name="VPN")))
    assert vpn.name == "VPN · Test phone"
