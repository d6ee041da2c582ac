"""POST /api/v1/auth/validate: the relying party's door."""

import time

import pytest

from tokens.models import AuditEvent, Token

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/validate"


def test_a_right_passcode_is_accepted(rp, user, enroll):
    device = enroll(user)
    time.sleep(0)  # the confirmation consumed this step's code: use the next step
    code = device.code(now=time.time() + 30)
    response = rp.post(URL, {"username": "alice", "passcode": code}, format="json")
    assert response.status_code == 200
    assert response.json() == {"result": "accept", "serial": device.serial}


def test_the_confirmation_code_cannot_be_replayed(rp, user, enroll):
    device = enroll(user)
    code = device.code()  # the code just used for confirmation
    response = rp.post(URL, {"username": "alice", "passcode": code}, format="json")
    assert response.json() == {"result": "reject"}


def test_unknown_user_and_wrong_code_look_the_same(rp, user, enroll):
    enroll(user)
    unknown = rp.post(URL, {"username": "mallory", "passcode": "123456"}, format="json")
    wrong = rp.post(URL, {"username": "alice", "passcode": "000000"}, format="json")
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.json() == wrong.json() == {"result": "reject"}
    assert (
        AuditEvent.objects.filter(action="otp.validate", outcome="failure").count() == 2
    )


def test_a_missing_or_wrong_key_is_401(api, rp):
    body = {"username": "alice", "passcode": "123456"}
    assert api.post(URL, body, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer tsk_wrong")
    response = api.post(URL, body, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    api.credentials(HTTP_AUTHORIZATION="Bearer " + rp.key + "x")
    assert api.post(URL, body, format="json").status_code == 401


def test_an_inactive_client_key_is_refused(rp):
    from tokens.models import ApiClient

    ApiClient.objects.update(is_active=False)
    response = rp.post(URL, {"username": "a", "passcode": "123456"}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice"},
        {"passcode": "123456"},
        {"username": "alice", "passcode": 123456},
        {"username": ["alice"], "passcode": "123456"},
        {"username": "alice", "passcode": "12 34"},
        {"username": "alice", "passcode": "1" * 40},
        {"username": "a" * 200, "passcode": "123456"},
        {"username": "alice", "passcode": "123456", "admin": True},
        {"username": "alice", "passcode": "123456", "ip": "not-an-ip"},
    ],
)
def test_malformed_bodies_get_a_clear_400_and_change_nothing(rp, user, enroll, body):
    enroll(user)
    before = AuditEvent.objects.count()
    response = rp.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["detail"]
    assert AuditEvent.objects.count() == before
    assert Token.objects.get().failure_count == 0


def test_non_json_and_huge_bodies_are_refused(rp):
    assert (
        rp.post(
            URL, "username=a", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 415
    )
    assert rp.post(URL, "{", content_type="application/json").status_code == 400
    huge = '{"username": "' + "a" * 100_000 + '", "passcode": "123456"}'
    assert rp.post(URL, huge, content_type="application/json").status_code == 413


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/auth/validate" in text and "/api/v1/device/activate" in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"redoc" in docs.content.lower()
    assert 'src="/api/docs/redoc.standalone.js"' in docs.content.decode()
    bundle = client.get("/api/docs/redoc.standalone.js").content
    assert b"cdn.redoc.ly" not in bundle and b"icon-192" in bundle


def test_the_schema_says_how_to_authenticate_and_one_type_per_field(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "Authorization: Bearer <key>" in schema["info"]["description"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for name in ("ValidateRequest", "PushRequest"):
        ip = schema["components"]["schemas"][name]["properties"]["ip"]
        titles = [choice["title"] for choice in ip["anyOf"]]
        assert titles == ["IPv4 address", "IPv6 address"]
    browser = schema["components"]["schemas"]["PushRequest"]["properties"]["browser"]
    assert "oneOf" not in browser


def test_the_audit_keeps_the_relying_partys_address_beside_the_reported_one(
    rp, user, enroll
):
    enroll(user)
    rp.post(
        URL,
        {"username": "alice", "passcode": "000000", "ip": "203.0.113.9"},
        format="json",
        REMOTE_ADDR="198.51.100.77",
    )
    event = AuditEvent.objects.filter(action="otp.validate").latest("id")
    assert (event.ip, event.detail["rp_ip"]) == ("203.0.113.9", "198.51.100.77")


def test_an_accepted_code_costs_one_look_up_and_one_write(rp, user, enroll):
    """The validation's round trips: the token look-up, then the code spent
    and its audit row written together (on PostgreSQL one statement, which
    commits both or neither; elsewhere one transaction of two)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    device = enroll(user)
    code = device.code(now=time.time() + 30)
    body = {"username": "alice", "passcode": code, "ip": "192.0.2.7"}
    assert rp.post(URL, {}, format="json").status_code == 400  # key now known
    with CaptureQueriesContext(connection) as queries:
        response = rp.post(URL, body, format="json")
    assert response.json() == {"result": "accept", "serial": device.serial}
    statements = [q["sql"].split()[0].upper() for q in queries]
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "WITH"]
        assert 'INSERT INTO "tokens_auditevent"' in queries[1]["sql"]
    else:
        assert statements == ["SELECT", "UPDATE", "INSERT"]
    event = AuditEvent.objects.get(action="otp.validate", outcome="success")
    assert (event.username, event.serial, event.ip) == (
        "alice",
        device.serial,
        "192.0.2.7",
    )
    assert event.detail["client"] == "VPN"
    # The same code again: nothing spent, so no success row with it.
    again = rp.post(URL, body, format="json")
    assert again.json() == {"result": "reject"}
    assert (
        AuditEvent.objects.filter(outcome="success", action="otp.validate").count() == 1
    )
