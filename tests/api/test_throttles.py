"""Throttles key on the real client address; 401s, 429s and 500s are audited."""

from __future__ import annotations

import uuid

import pytest

from tokens.api.throttling import ClientScopedRateThrottle
from tokens.models import AuditEvent


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(
        ClientScopedRateThrottle,
        "THROTTLE_RATES",
        {"device": "3/minute", "device-poll": "3/minute"},
    )


def activate(api, forwarded: str | None = None, peer: str = "198.51.100.20"):
    extra = {"REMOTE_ADDR": peer}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    body = {
        "activation": "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AA",
        "ecdh_public_key": "x",
        "device_public_key": "x",
    }
    return api.post("/api/v1/device/activate", body, format="json", **extra)


@pytest.mark.django_db
def test_a_random_forwarded_header_per_request_does_not_dodge_the_throttle(
    api, three_a_minute
):
    codes = [
        activate(api, forwarded=str(uuid.uuid4().int % 250) + ".0.0.1").status_code
        for _ in range(5)
    ]
    assert codes[:3] == [400, 400, 400] and codes[3:] == [429, 429]
    throttled = AuditEvent.objects.filter(action="api.throttled")
    assert throttled.count() == 2
    assert throttled.first().ip == "198.51.100.20"
    assert throttled.first().detail["scope"] == "device"


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_has_its_own_quota(
    api, three_a_minute, settings
):
    settings.TESSERA_TRUSTED_PROXIES = ["127.0.0.1"]
    for client in ("203.0.113.1", "203.0.113.2"):
        codes = [
            activate(api, forwarded=client, peer="127.0.0.1").status_code
            for _ in range(4)
        ]
        assert codes == [400, 400, 400, 429], client
    ips = set(
        AuditEvent.objects.filter(action="device.activate").values_list("ip", flat=True)
    ) | set(
        AuditEvent.objects.filter(action="api.throttled").values_list("ip", flat=True)
    )
    assert ips >= {"203.0.113.1", "203.0.113.2"}
    assert "127.0.0.1" not in ips


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Bearer a b"])
def test_a_bad_or_missing_api_key_is_audited(api, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = api.post(
        "/api/v1/auth/validate",
        {"username": "alice", "passcode": "123456"},
        format="json",
        REMOTE_ADDR="198.51.100.30",
        **extra,
    )
    assert response.status_code == 401
    event = AuditEvent.objects.get(action="api.unauthorized")
    assert (event.ip, event.detail["path"]) == (
        "198.51.100.30",
        "/api/v1/auth/validate",
    )


@pytest.mark.django_db
def test_a_500_is_audited_without_its_message(client, monkeypatch):
    from django.urls import path

    import config.urls

    def boom(request):
        raise RuntimeError("secret-in-message")

    monkeypatch.setattr(
        config.urls, "urlpatterns", [path("boom", boom), *config.urls.urlpatterns]
    )
    client.raise_request_exception = False
    from django.urls import clear_url_caches

    clear_url_caches()
    try:
        response = client.get("/boom", REMOTE_ADDR="198.51.100.40")
    finally:
        clear_url_caches()
    assert response.status_code == 500
    assert b"secret-in-message" not in response.content
    event = AuditEvent.objects.get(action="server.error")
    assert (event.ip, event.detail) == (
        "198.51.100.40",
        {"path": "/boom", "exception": "RuntimeError"},
    )
