"""PROTOCOL §7: user verification the server checks, with a software
authenticator standing in for the phone's fingerprint or face unlock."""

from __future__ import annotations

import pytest

from tests.device_client import Device, sha256
from tests.soft_authenticator import SoftAuthenticator
from tests.tokens.test_push import create, submit
from tokens.models import AuditEvent, PushChallenge, Token
from tokens.services.enrollment import token_assign
from tokens.services.errors import ServiceError

pytestmark = pytest.mark.django_db
SITE = "http://localhost:8000"


@pytest.fixture
def uv_policy(settings, make_policy):
    settings.SITE_URL = SITE
    return make_policy(pin_mode="none", user_verification="required")


def activate(api, user, policy, authenticator=None):
    issued = token_assign(user=user, policy=policy, actor="test")
    device = Device(authenticator=authenticator)
    answer = api.post(
        "/api/v1/device/activate",
        device.activate_body(issued.activation_string),
        format="json",
    ).json()
    device.accept_activation(issued.activation_string, answer)
    return device


def phone_authenticator(**kw):
    return SoftAuthenticator(origin=SITE, rp_id="localhost", **kw)


def confirm(api, device, **changes):
    body = {**device.confirm_body(), **changes}
    return api.post("/api/v1/device/confirm", body, format="json")


@pytest.fixture
def uv_device(api, user, uv_policy):
    device = activate(api, user, uv_policy, phone_authenticator())
    assert confirm(api, device).status_code == 200
    return device


def test_the_policy_is_in_the_activation_answer(api, user, uv_policy):
    device = activate(api, user, uv_policy)
    assert device.policy["user_verification"] == "required"


def test_confirmation_keeps_the_verified_credential(uv_device):
    token = Token.objects.get(serial=uv_device.serial)
    assert token.state == "active"
    assert token.uv_credential_id and bytes(token.uv_public_key)


@pytest.mark.parametrize(
    "problem",
    ["missing", "no_uv", "wrong_origin", "wrong_rp", "wrong_challenge"],
)
def test_a_confirmation_without_a_valid_credential_is_refused(
    api, user, uv_policy, problem
):
    authenticator = phone_authenticator(user_verified=problem != "no_uv")
    device = activate(api, user, uv_policy, authenticator)
    body = device.confirm_body()
    challenge = sha256(f"tessera/v1/uv-register|{device.serial}|{body['otp']}")
    if problem == "missing":
        body.pop("webauthn")
    elif problem == "wrong_origin":
        body["webauthn"] = authenticator.register(
            challenge, origin="https://evil.example"
        )
    elif problem == "wrong_rp":
        body["webauthn"] = authenticator.register(challenge, rp_id="evil.example")
    elif problem == "wrong_challenge":
        body["webauthn"] = authenticator.register(sha256("something else"))
    response = api.post("/api/v1/device/confirm", body, format="json")
    assert response.status_code == 403, response.json()
    assert response.json()["error"] == "user_verification_required"
    assert Token.objects.get(serial=device.serial).state == "assigned"


def test_an_approval_with_a_verified_assertion_is_accepted(uv_device):
    challenge = create()
    frame = uv_device.answer_frame(str(challenge.pk), "approve", challenge.number)
    assert submit(frame).state == "approved"
    assert Token.objects.get(serial=uv_device.serial).uv_sign_count == 1
    event = AuditEvent.objects.get(action="push.answer", outcome="success")
    assert event.detail["webauthn"] is True


def test_a_copied_device_key_alone_cannot_approve(uv_device):
    """A thief with the phone's browser data signs an answer but has no
    platform authenticator to verify the user."""
    challenge = create()
    frame = uv_device.answer_frame(str(challenge.pk), "approve", challenge.number)
    frame.pop("webauthn")
    with pytest.raises(ServiceError) as refused:
        submit(frame)
    assert refused.value.code == "user_verification_required"
    assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"


def test_deny_and_fraud_need_no_assertion(uv_device):
    frame = uv_device.answer_frame(str(create().pk), "deny")
    assert "webauthn" not in frame and submit(frame).state == "denied"


def test_an_assertion_without_user_verification_is_refused(uv_device):
    uv_device.authenticator.user_verified = False
    challenge = create()
    with pytest.raises(ServiceError) as refused:
        submit(uv_device.answer_frame(str(challenge.pk), "approve", challenge.number))
    assert refused.value.code == "user_verification_required"


def test_an_assertion_for_another_answer_is_refused(uv_device):
    first, second = create(), create(application="Mail")
    one = uv_device.answer_frame(str(first.pk), "approve", first.number)
    two = uv_device.answer_frame(str(second.pk), "approve", second.number)
    with pytest.raises(ServiceError) as refused:
        submit({**two, "webauthn": one["webauthn"]})
    assert refused.value.code == "user_verification_required"


def test_a_replayed_assertion_is_refused(uv_device):
    challenge = create()
    frame = uv_device.answer_frame(str(challenge.pk), "approve", challenge.number)
    # The same assertion again, for the same request made pending again: the
    # sign count did not move, so it is a replay.
    assert submit(frame).state == "approved"
    PushChallenge.objects.filter(pk=challenge.pk).update(state="pending")
    with pytest.raises(ServiceError) as refused:
        submit(frame)
    assert refused.value.code == "user_verification_required"


def test_a_credential_of_another_token_is_refused(api, user, uv_policy, uv_device):
    other = activate(api, user, uv_policy, phone_authenticator())
    assert confirm(api, other).status_code == 200
    challenge = create()
    mine = uv_device.answer_frame(str(challenge.pk), "approve", challenge.number)
    theirs = other.authenticator.assert_(
        sha256(f"tessera/v1/answer|{challenge.pk}|approve|{challenge.number}")
    )
    with pytest.raises(ServiceError) as refused:
        submit({**mine, "webauthn": theirs})
    assert refused.value.code == "user_verification_required"


@pytest.mark.django_db(transaction=True)
def test_the_socket_takes_the_assertion_too(uv_device):
    from tests.ws.test_device_socket import authenticate, device_socket
    from tests.ws.test_token_status import run_async

    challenge = create()

    async def run():
        comm = device_socket()
        await authenticate(comm, uv_device)
        await comm.receive_json_from()  # the pending challenge
        await comm.send_json_to(
            uv_device.answer_frame(str(challenge.pk), "approve", challenge.number)
        )
        result = await comm.receive_json_from()
        await comm.disconnect()
        return result

    assert run_async(run)["state"] == "approved"


def test_with_a_token_pin_both_the_pin_proof_and_the_fingerprint_are_needed(
    api, user, uv_policy
):
    uv_policy.pin_mode = "token"
    uv_policy.save()
    device = activate(api, user, uv_policy, phone_authenticator())
    assert confirm(api, device).status_code == 200
    challenge = create()
    frame = device.answer_frame(str(challenge.pk), "approve", challenge.number)
    assert frame["otp"] and frame["webauthn"]  # version 2, and the assertion
    without_uv = {k: v for k, v in frame.items() if k != "webauthn"}
    with pytest.raises(ServiceError) as refused:
        submit(without_uv)
    assert refused.value.code == "user_verification_required"
    assert submit(frame).state == "approved"
