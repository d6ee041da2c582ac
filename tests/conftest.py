"""Shared fixtures: users, policies, API clients and enrolled devices."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.device_client import Device
from tokens.models import Policy
from tokens.selectors import policy_default
from tokens.services.apiclients import api_client_create
from tokens.services.enrollment import token_assign


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(
        "alice", "alice@example.com", "correct horse battery"
    )


@pytest.fixture
def make_policy(db):
    def make(**fields) -> Policy:
        fields.setdefault("name", f"policy-{Policy.objects.count()}")
        return Policy.objects.create(**fields)

    return make


@pytest.fixture
def api(db):
    return APIClient()


@pytest.fixture
def rp(db):
    """An APIClient authenticated as a relying application."""
    _, key = api_client_create(name="VPN", actor="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.key = key
    return client


@pytest.fixture
def enroll(api):
    """Assign, activate and confirm a token through the device API."""

    def run(user, policy: Policy | None = None, server_pin: str = "") -> Device:
        issued = token_assign(
            user=user, policy=policy or policy_default(), actor="test"
        )
        device = Device()
        answer = api.post(
            "/api/v1/device/activate",
            device.activate_body(issued.activation_string),
            format="json",
        )
        assert answer.status_code == 200, answer.json()
        device.accept_activation(issued.activation_string, answer.json())
        confirmed = api.post(
            "/api/v1/device/confirm", device.confirm_body(server_pin), format="json"
        )
        assert confirmed.status_code == 200, confirmed.json()
        device.issued = issued
        return device

    return run


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def admin_client(client, enroll):
    """A superuser's browser session, logged in with a second factor (the
    admin takes nothing less)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from tokens.models import Token

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    device = enroll(root)
    client.force_login(root)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = Token.objects.get(
        serial=device.serial
    ).persistent_id
    session.save()
    return client
