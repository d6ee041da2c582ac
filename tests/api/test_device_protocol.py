"""docs/protocol.md §1–§3 through the HTTP API, driven by the independent client."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.device_client import Device
from tokens.models import AuditEvent, Enrollment, Token
from tokens.services.enrollment import token_assign

pytestmark = pytest.mark.django_db


def activate(api, text, device=None):
    device = device or Device()
    return device, api.post(
        "/api/v1/device/activate", device.activate_body(text), format="json"
    )


def test_activation_answers_as_the_protocol_says(api, user):
    issued = token_assign(user=user, actor="test")
    device, response = activate(api, issued.activation_string)
    assert response.status_code == 200
    body = response.json()
    assert body["serial"] == issued.token.serial
    assert body["label"] == "alice@example.com"
    assert body["otp"] == {
        "type": "totp",
        "algorithm": "SHA1",
        "digits": 6,
        "period": 30,
    }
    assert body["policy"] == {
        "pin_mode": "token",
        "pin_min_length": 4,
        "pin_max_length": 8,
        "pin_charset": "numeric",
        "pin_max_attempts": 5,
        "fingerprint": "allowed",
        "push": True,
        "number_matching": True,
        "user_verification": "off",
        "fraud_lock": True,
    }
    assert len(Device.__dataclass_fields__) and "seed" not in body


def test_the_seed_is_never_stored_or_sent_in_clear(api, user):
    issued = token_assign(user=user, actor="test")
    device, response = activate(api, issued.activation_string)
    device.accept_activation(issued.activation_string, response.json())
    token = Token.objects.get(serial=device.serial)
    assert device.seed.hex() not in token.seed_encrypted
    assert device.seed.hex() not in response.content.decode()
    assert token.seed_encrypted.startswith("v1:k1:")
    enrollment = Enrollment.objects.get(token=token)
    code = issued.activation_string.replace("-", "")
    assert code not in str(enrollment.__dict__)


def test_confirmation_activates_the_token(api, user):
    issued = token_assign(user=user, actor="test")
    device, response = activate(api, issued.activation_string)
    device.accept_activation(issued.activation_string, response.json())
    confirmed = api.post("/api/v1/device/confirm", device.confirm_body(), format="json")
    assert confirmed.status_code == 200
    assert confirmed.json() == {"state": "active"}
    token = Token.objects.get(serial=device.serial)
    assert token.state == "active" and token.confirmed
    assert token.device_public_key is not None


def test_an_event_based_token_confirms_with_counter_zero(api, user, make_policy):
    policy = make_policy(otp_kind="hotp", digits=8, algorithm="SHA256")
    issued = token_assign(user=user, policy=policy, actor="test")
    device, response = activate(api, issued.activation_string)
    assert response.json()["otp"] == {
        "type": "hotp",
        "algorithm": "SHA256",
        "digits": 8,
        "counter": 0,
    }
    device.accept_activation(issued.activation_string, response.json())
    assert len(device.seed) == 32
    confirmed = api.post("/api/v1/device/confirm", device.confirm_body(), format="json")
    assert confirmed.status_code == 200


def test_a_used_activation_string_is_refused(api, user):
    issued = token_assign(user=user, actor="test")
    device, answer = activate(api, issued.activation_string)
    device.accept_activation(issued.activation_string, answer.json())
    api.post("/api/v1/device/confirm", device.confirm_body(), format="json")
    _, again = activate(api, issued.activation_string)
    assert again.status_code == 400
    assert again.json()["error"] == "already_used"


def test_an_activation_never_confirmed_restarts_from_the_same_string(
    api, user, make_policy
):
    """A phone that could not finish (no fingerprint where the policy needs
    one) does not burn the string: another device, or the same app again,
    restarts it; the first binding then confirms nothing."""
    from tokens.models import AuditEvent, Enrollment, Token

    policy = make_policy(activation_attempts=3)
    issued = token_assign(user=user, policy=policy, actor="test")
    first, answer = activate(api, issued.activation_string)
    first.accept_activation(issued.activation_string, answer.json())
    assert issued.enrollment.token.state == "assigned"
    assert Enrollment.objects.get(pk=issued.enrollment.pk).is_open  # link page too

    second, again = activate(api, issued.activation_string)

    assert again.status_code == 200
    second.accept_activation(issued.activation_string, again.json())
    stale = api.post("/api/v1/device/confirm", first.confirm_body(), format="json")
    assert stale.status_code == 400
    done = api.post("/api/v1/device/confirm", second.confirm_body(), format="json")
    assert done.status_code == 200
    assert Token.objects.get(pk=issued.token.pk).state == "active"
    assert activate(api, issued.activation_string)[1].json()["error"] == "already_used"
    assert AuditEvent.objects.filter(
        action="enrollment.activate", detail__restart=True
    ).exists()


def test_restarts_are_bounded_by_the_attempts(api, user, make_policy):
    issued = token_assign(
        user=user, policy=make_policy(activation_attempts=2), actor="test"
    )
    statuses = [
        activate(api, issued.activation_string)[1].status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 400]


def test_an_expired_activation_string_is_refused(api, user):
    issued = token_assign(user=user, actor="test")
    Enrollment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _, response = activate(api, issued.activation_string)
    assert response.json()["error"] == "expired"
    assert Token.objects.get().seed_encrypted == ""


def test_a_reissued_string_voids_the_old_one(api, user):
    from tokens.services.enrollment import enrollment_issue

    old = token_assign(user=user, actor="test")
    new = enrollment_issue(token=old.token, actor="test")
    assert activate(api, old.activation_string)[1].json()["error"] == "already_used"
    assert activate(api, new.activation_string)[1].status_code == 200


def test_wrong_codes_count_attempts_until_the_enrollment_is_void(api, user):
    from tokens import crypto

    issued = token_assign(user=user, actor="test")
    parsed = crypto.activation_parse(issued.activation_string)
    forged = crypto.activation_encode(parsed.enrollment_id, b"\x00" * 16)
    for _ in range(5):
        _, response = activate(api, forged)
        assert response.json()["error"] == "invalid_activation"
    assert Enrollment.objects.get().attempts == 5
    _, response = activate(api, issued.activation_string)
    assert response.json()["error"] == "too_many_attempts"
    assert Token.objects.get().seed_encrypted == ""


@pytest.mark.parametrize(
    "body,error",
    [
        ({"activation": "garbage"}, "invalid_activation"),
        ({"activation": "AAAAA-AAAAA"}, "invalid_activation"),
        ({"ecdh_public_key": "not-a-key"}, "invalid_request"),
        ({"device_public_key": "AAAA"}, "invalid_request"),
        ({"activation": 12345}, "invalid_request"),
        ({"extra": "field"}, "invalid_request"),
    ],
)
def test_bad_activation_bodies_get_a_clear_400_and_change_nothing(
    api, user, body, error
):
    issued = token_assign(user=user, actor="test")
    device = Device()
    payload = {**device.activate_body(issued.activation_string), **body}
    response = api.post("/api/v1/device/activate", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == error and response.json()["detail"]
    token = Token.objects.get()
    assert token.seed_encrypted == "" and token.state == "assigned"
    assert Enrollment.objects.get().used_at is None


def test_a_string_from_another_server_is_not_known(api, user):
    from tokens import crypto

    token_assign(user=user, actor="test")
    _, text = crypto.new_activation()
    _, response = activate(api, text)
    assert response.status_code == 400
    assert "not known here" in response.json()["detail"]


def test_malformed_json_and_huge_bodies_are_refused(api, settings):
    response = api.post(
        "/api/v1/device/activate", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_request"
    huge = '{"activation": "' + "A" * 70000 + '"}'
    response = api.post(
        "/api/v1/device/activate", huge, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    response = api.post(
        "/api/v1/device/activate", "[1,2]", content_type="application/json"
    )
    assert response.status_code == 400


def _activated(api, user, policy=None):
    issued = token_assign(user=user, policy=policy, actor="test")
    device, response = activate(api, issued.activation_string)
    device.accept_activation(issued.activation_string, response.json())
    return device


def test_a_forged_confirmation_signature_is_refused(api, user):
    device = _activated(api, user)
    body = device.confirm_body()
    body["signature"] = Device().sign(
        f"tessera/v1/confirm|{device.serial}|{body['otp']}|"
    )
    response = api.post("/api/v1/device/confirm", body, format="json")
    assert response.json()["error"] == "invalid_signature"
    assert Token.objects.get().state == "assigned"


def test_a_wrong_confirmation_code_is_refused_and_counted(api, user):
    device = _activated(api, user)
    wrong = "000000" if device.code() != "000000" else "111111"
    text = f"tessera/v1/confirm|{device.serial}|{wrong}|"
    body = {
        "serial": device.serial,
        "otp": wrong,
        "server_pin": "",
        "signature": device.sign(text),
    }
    response = api.post("/api/v1/device/confirm", body, format="json")
    assert response.json()["error"] == "invalid_otp"
    assert Token.objects.get().failure_count == 1


def test_server_pin_mode_requires_a_pin_that_follows_the_rules(api, user, make_policy):
    device = _activated(api, user, make_policy(pin_mode="server", pin_min_length=6))
    response = api.post(
        "/api/v1/device/confirm", device.confirm_body("123"), format="json"
    )
    assert response.json()["error"] == "invalid_pin"
    assert "6 to 8" in response.json()["detail"]
    response = api.post(
        "/api/v1/device/confirm", device.confirm_body("482913"), format="json"
    )
    assert response.status_code == 200
    token = Token.objects.get()
    assert token.server_pin_digest and "482913" not in token.server_pin_digest


def test_a_pin_sent_for_a_policy_without_server_pin_is_refused(api, user):
    device = _activated(api, user)
    response = api.post(
        "/api/v1/device/confirm", device.confirm_body("1234"), format="json"
    )
    assert response.json()["error"] == "invalid_pin"


def test_every_activation_step_is_audited(api, user, enroll):
    enroll(user)
    actions = list(AuditEvent.objects.values_list("action", "outcome"))
    assert ("token.assign", "success") in actions
    assert ("enrollment.activate", "success") in actions
    assert ("enrollment.confirm", "success") in actions
