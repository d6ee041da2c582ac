"""Hostile input at the HTTP doors: a clear 4xx, never a 500 or a write."""

from __future__ import annotations

import pytest
from channels.testing import HttpCommunicator

from tests.ws.test_token_status import run_async
from tokens.models import AuditEvent, PushChallenge, Token

DEEP = "[" * 4000 + "]" * 4000  # ~8 KB: Python's parser recursed to a crash
JSON_DOORS = [
    "/api/v1/device/activate",
    "/api/v1/device/confirm",
    "/api/v1/device/answer",
    "/api/v1/auth/validate",
    "/api/v1/auth/push",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", JSON_DOORS)
@pytest.mark.parametrize("body", [DEEP, '{"a": ' + "[" * 3000 + "]" * 3000 + "}"])
def test_deeply_nested_json_is_a_400_on_every_json_door(rp, path, body):
    rows = AuditEvent.objects.count()
    response = rp.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "nest" in response.json()["detail"]
    assert AuditEvent.objects.count() == rows


@pytest.mark.django_db
def test_nesting_inside_strings_is_only_text(rp):
    response = rp.post(
        "/api/v1/auth/validate",
        {"username": "[" * 70 + "{" * 70, "passcode": "123456"},
        format="json",
    )
    assert response.status_code == 200 and response.json() == {"result": "reject"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "ident", ["a%20b", "null,null", "x" * 120, "../../x", "1" * 36]
)
def test_a_push_id_that_is_not_a_uuid_is_a_404(rp, ident):
    from config.asgi import application

    async def run():
        comm = HttpCommunicator(
            application,
            "GET",
            f"/api/v1/auth/push/{ident}?wait=0",
            headers=[(b"authorization", f"Bearer {rp.key}".encode())],
        )
        return await comm.get_response(timeout=5)

    response = run_async(run)
    assert response["status"] == 404
    assert b'"not_found"' in response["body"]


@pytest.mark.django_db
@pytest.mark.parametrize("length", [17, 4000])
def test_an_over_long_serial_is_refused_before_the_database(api, user, enroll, length):
    device = enroll(user)
    challenge = PushChallenge.objects.create(
        username="alice", application="VPN", expires_at="2999-01-01T00:00:00Z"
    )
    serial = "S" * length
    frame = {**device.answer_frame(str(challenge.pk), "deny"), "serial": serial}
    answered = api.post("/api/v1/device/answer", frame, format="json")
    assert answered.status_code == 400
    assert answered.json()["error"] == "invalid_request"
    polled = api.get(
        "/api/v1/device/challenges",
        headers={**device.poll_headers(), "X-Tessera-Serial": serial},
    )
    assert polled.status_code == 403
    refusal = AuditEvent.objects.filter(action="device.poll").latest("id")
    assert refusal.serial == serial[:16]  # cut to the column, on every database
    assert not Token.objects.filter(serial=serial).exists()


LONE_SURROGATE_BODIES = {
    "/api/v1/device/answer": {"decision": "\ud800", "id": "x", "serial": "x"},
    "/api/v1/device/activate": {"activation": "\udfff"},
    "/api/v1/device/confirm": {"serial": "TSR-\ud83d", "otp": "1"},
    "/api/v1/device/remove": {"serial": "\ud800", "signature": "x", "time": 1},
    "/api/v1/device/webpush": {"serial": "x", "endpoint": "https://\ud800/"},
    "/api/v1/auth/validate": {"username": "alice", "passcode": "\ud800"},
    "/api/v1/auth/push": {"username": "\udc00alice"},
    "/passkey/finish": {"credential": {"id": "\ud800"}},
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(LONE_SURROGATE_BODIES))
def test_strings_that_are_not_unicode_are_a_clear_400_everywhere(rp, path):
    """``"\\ud800"`` is valid JSON but no valid text: it once reached an error
    message and made the renderer fail (a 500)."""
    import json

    rows = AuditEvent.objects.count()
    body = json.dumps(LONE_SURROGATE_BODIES[path])  # ASCII: "\ud800" escapes
    assert "\\ud" in body.lower()
    response = rp.post(path, body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    if path.startswith("/api/"):
        assert response.json()["error"] == "malformed_request"
        assert "Unicode" in response.json()["detail"]
    assert AuditEvent.objects.count() == rows


@pytest.mark.django_db
def test_a_surrogate_pair_is_a_character_not_an_error(rp):
    response = rp.post(
        "/api/v1/auth/validate",
        '{"username": "\\ud83d\\ude00", "passcode": "123456"}',
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json() == {"result": "reject"}
