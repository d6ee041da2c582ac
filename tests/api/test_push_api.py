"""Relying-party push API and the device answer/poll endpoints."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.utils import timezone

from tests.tokens.test_push import answer
from tests.ws.test_token_status import run_async
from tokens.models import AuditEvent, PushChallenge
from tokens.services.apiclients import api_client_create


def start(rp, **body):
    body = {"username": "alice", "application": "VPN", **body}
    return rp.post("/api/v1/auth/push", body, format="json")


@pytest.mark.django_db
def test_starting_a_push_returns_the_id_and_the_number(rp, user, enroll):
    enroll(user)
    response = start(rp, ip="203.0.113.7", browser="Firefox on Windows")
    assert response.status_code == 201
    body = response.json()
    challenge = PushChallenge.objects.get(pk=body["id"])
    assert body["number"] == challenge.number and body["state"] == "pending"
    assert (challenge.ip, challenge.browser, challenge.client) == (
        "203.0.113.7",
        "Firefox on Windows",
        "VPN",
    )


@pytest.mark.django_db
def test_an_unknown_user_looks_the_same(rp):
    response = start(rp, username="nobody")
    assert response.status_code == 201
    assert set(response.json()) == {"id", "state", "number", "expires"}


@pytest.mark.django_db
def test_a_second_push_while_one_is_pending_is_refused(rp, user, enroll):
    enroll(user)
    assert start(rp).status_code == 201
    response = start(rp)
    assert response.status_code == 429
    assert response.json()["error"] == "push_pending"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"application": ""},
        {"application": "x" * 81},
        {"ip": "not an ip"},
        {"username": 5},
        {"browser": "b" * 121},
        {"extra": "field"},
    ],
)
def test_bad_push_requests_are_refused_without_a_write(rp, body):
    response = start(rp, **body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not PushChallenge.objects.exists()


@pytest.mark.django_db
def test_starting_a_push_needs_an_api_key(api):
    response = api.post("/api/v1/auth/push", {"username": "a", "application": "b"})
    assert response.status_code == 401


class Reply:
    def __init__(self, response):
        self.status_code = response["status"]
        self.body = response["body"]
        self.headers = {k.decode(): v.decode() for k, v in response.get("headers", [])}

    def json(self):
        return json.loads(self.body)


class _KeyedClient:
    """Calls the real ASGI application (config.asgi), as daphne would."""

    def __init__(self, key=None):
        self.headers = [(b"host", b"localhost")]
        if key is not None:
            self.headers.append((b"authorization", f"Bearer {key}".encode()))

    async def request(self, method, path):
        from config.asgi import application

        comm = HttpCommunicator(application, method, path, headers=self.headers)
        return Reply(await comm.get_response(timeout=30))

    def get(self, path):
        return self.request("GET", path)

    def post(self, path):
        return self.request("POST", path)


def _async_client(key):
    return _KeyedClient(key)


@pytest.mark.django_db(transaction=True)
def test_the_long_poll_answers_as_soon_as_the_phone_approves(rp, user, enroll):
    device = enroll(user)
    challenge_id = start(rp).json()["id"]
    challenge = PushChallenge.objects.get(pk=challenge_id)

    async def run():
        client = _async_client(rp.key)
        waiting = asyncio.create_task(
            client.get(f"/api/v1/auth/push/{challenge_id}?wait=20")
        )
        await asyncio.sleep(0.3)
        assert not waiting.done()
        began = time.monotonic()
        await database_sync_to_async(answer)(device, challenge)
        response = await waiting
        return response, time.monotonic() - began

    response, took = run_async(run)
    assert response.status_code == 200
    assert response.json() == {
        "id": challenge_id,
        "state": "approved",
        "serial": device.serial,
    }
    assert took < 10  # woken by the answer, not by the 20 s wait


@pytest.mark.django_db(transaction=True)
def test_the_long_poll_says_pending_after_the_wait(rp, user, enroll):
    enroll(user)
    challenge_id = start(rp).json()["id"]

    async def run():
        return await _async_client(rp.key).get(
            f"/api/v1/auth/push/{challenge_id}?wait=1"
        )

    response = run_async(run)
    assert response.json() == {"id": challenge_id, "state": "pending"}


@pytest.mark.django_db(transaction=True)
def test_the_long_poll_ends_at_the_expiry(rp, user, enroll):
    enroll(user)
    challenge_id = start(rp).json()["id"]
    PushChallenge.objects.filter(pk=challenge_id).update(
        expires_at=timezone.now() + timedelta(seconds=0.5)
    )

    async def run():
        return await _async_client(rp.key).get(
            f"/api/v1/auth/push/{challenge_id}?wait=20"
        )

    response = run_async(run)
    assert response.json() == {"id": challenge_id, "state": "expired"}


@pytest.mark.django_db(transaction=True)
def test_a_denial_is_reported_with_the_fraud_flag(rp, user, enroll):
    device = enroll(user)
    challenge_id = start(rp).json()["id"]
    response = rp.post(
        "/api/v1/device/answer",
        device.answer_frame(challenge_id, "fraud", "", otp=device.code()),
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["state"] == "denied"

    async def run():
        return await _async_client(rp.key).get(f"/api/v1/auth/push/{challenge_id}")

    assert run_async(run).json() == {
        "id": challenge_id,
        "state": "denied",
        "fraud": True,
    }


@pytest.mark.django_db(transaction=True)
def test_the_status_is_private_to_its_application_and_checked(rp, user, enroll):
    enroll(user)
    challenge_id = start(rp).json()["id"]
    _, other_key = api_client_create(name="Mail", actor="test")

    async def run():
        other = await _async_client(other_key).get(f"/api/v1/auth/push/{challenge_id}")
        anonymous = await _KeyedClient().get(f"/api/v1/auth/push/{challenge_id}")
        bad_key = await _async_client("nope").get(f"/api/v1/auth/push/{challenge_id}")
        unknown = await _async_client(rp.key).get("/api/v1/auth/push/not-a-uuid")
        nested = await _async_client(rp.key).get(f"/api/v1/auth/push/{challenge_id}/x")
        bad_wait = await _async_client(rp.key).get(
            f"/api/v1/auth/push/{challenge_id}?wait=26"
        )
        post = await _async_client(rp.key).post(f"/api/v1/auth/push/{challenge_id}")
        return other, anonymous, bad_key, unknown, nested, bad_wait, post

    other, anonymous, bad_key, unknown, nested, bad_wait, post = run_async(run)
    assert other.status_code == unknown.status_code == nested.status_code == 404
    assert anonymous.status_code == 401 and bad_key.status_code == 401
    assert bad_wait.status_code == 400 and bad_wait.json()["error"] == "invalid_request"
    assert post.status_code == 405 and post.headers["Allow"] == "GET"
    refused = AuditEvent.objects.filter(action="api.unauthorized")
    assert refused.count() == 2
    assert refused.first().detail["path"] == f"/api/v1/auth/push/{challenge_id}"


@pytest.mark.django_db
def test_the_answer_endpoint_refuses_a_second_answer(api, rp, user, enroll):
    device = enroll(user)
    challenge_id = start(rp).json()["id"]
    number = PushChallenge.objects.get(pk=challenge_id).number
    first = api.post(
        "/api/v1/device/answer",
        device.answer_frame(challenge_id, "approve", number),
        format="json",
    )
    second = api.post(
        "/api/v1/device/answer",
        device.answer_frame(challenge_id, "deny", ""),
        format="json",
    )
    assert first.json() == {
        "type": "answer.result",
        "id": challenge_id,
        "state": "approved",
    }
    assert (second.status_code, second.json()["error"]) == (409, "already_answered")


@pytest.mark.django_db
def test_the_answer_endpoint_validates_its_body(api):
    response = api.post(
        "/api/v1/device/answer",
        {"id": "x", "serial": "y", "decision": "maybe", "signature": "z"},
        format="json",
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_signed_poll_endpoint(api, rp, user, enroll):
    device = enroll(user)
    challenge_id = start(rp).json()["id"]
    headers = {
        f"HTTP_{k.upper().replace('-', '_')}": v
        for k, v in device.poll_headers().items()
    }
    response = api.get("/api/v1/device/challenges", **headers)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["challenges"]] == [challenge_id]
    headers["HTTP_X_TESSERA_SIGNATURE"] = "AAAA"
    refused = api.get("/api/v1/device/challenges", **headers)
    assert (refused.status_code, refused.json()["error"]) == (403, "invalid_signature")
    assert api.get("/api/v1/device/challenges").status_code == 403


@pytest.mark.django_db
def test_the_push_api_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/auth/push"]
    status = schema["paths"]["/api/v1/auth/push/{id}"]["get"]
    assert {p["name"] for p in status["parameters"]} == {"id", "wait"}
    assert "/api/v1/device/answer" in schema["paths"]
    assert "/api/v1/device/challenges" in schema["paths"]
