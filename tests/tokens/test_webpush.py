"""Web Push (PROTOCOL §6) against a push service on the loopback."""

from __future__ import annotations

import time

import pytest

from tests.webpush_receiver import Receiver, Subscription, verify_vapid
from tokens.models import AuditEvent, Token
from tokens.services.push import push_create

pytestmark = pytest.mark.django_db(transaction=True)
WEBPUSH = "/api/v1/device/webpush"


@pytest.fixture
def loopback_push_service(settings):
    """A deployment whose allow-list names the loopback test receiver; DEBUG
    on, so plain http is accepted for it (PROTOCOL §6)."""
    settings.DEBUG = True
    settings.TESSERA_WEBPUSH_HOSTS = ["127.0.0.1"]
    settings.TESSERA_WEBPUSH_PRIVATE_HOSTS = ["127.0.0.1"]  # allowed explicitly
    settings.TESSERA_WEBPUSH_CONTACT = "mailto:ops@example.com"


def subscribe(api, device, receiver, name="phone"):
    subscription = Subscription()
    response = api.post(
        WEBPUSH,
        device.webpush_body(receiver.url(name), subscription.p256dh, subscription.auth),
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"state": "subscribed"}
    return subscription


def wait_until(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_public_key_is_published_and_sent_at_activation(api, user, enroll):
    key = api.get(WEBPUSH).json()["public_key"]
    assert len(key) == 87  # a 65-byte point, b64u
    from tests.device_client import Device
    from tokens.selectors import policy_default
    from tokens.services.enrollment import token_assign

    issued = token_assign(user=user, policy=policy_default(), actor="test")
    device = Device()
    answer = api.post(
        "/api/v1/device/activate",
        device.activate_body(issued.activation_string),
        format="json",
    ).json()
    assert answer["webpush_public_key"] == key


def test_a_challenge_reaches_the_push_service_encrypted_and_signed(
    api, user, enroll, loopback_push_service
):
    device = enroll(user)
    key = api.get(WEBPUSH).json()["public_key"]
    with Receiver() as push_service:
        subscription = subscribe(api, device, push_service)
        challenge = push_create(username="alice", application="VPN", source="test")
        path, headers, body = push_service.wait_for(1)[0]
    assert path == "/push/phone"
    message = subscription.decrypt(body)
    assert message == {
        "type": "challenge",
        "id": str(challenge.pk),
        "serial": device.serial,
        "application": "VPN",
        "username": "alice",
        "ip": "",
        "browser": "",
        "created": challenge.created_at.isoformat(),
        "expires": challenge.expires_at.isoformat(),
        "numbers": challenge.numbers,
    }
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high"
    assert 100 <= int(headers["ttl"]) <= 120  # seconds until the expiry
    claims = verify_vapid(headers["authorization"], key)
    assert claims["aud"] == f"http://127.0.0.1:{push_service.port}"
    assert claims["sub"] == "mailto:ops@example.com"
    assert time.time() < claims["exp"] <= time.time() + 12 * 3600
    wait_until(lambda: AuditEvent.objects.filter(action="webpush.send").exists())
    sent = AuditEvent.objects.get(action="webpush.send")
    assert (sent.outcome, sent.serial, sent.detail["status"]) == (
        "success",
        device.serial,
        201,
    )
    assert "push/phone" not in str(sent.detail)  # the endpoint is a capability


def test_one_message_per_subscribed_push_token(
    api, user, enroll, loopback_push_service
):
    phone, tablet, quiet = enroll(user), enroll(user), enroll(user)
    with Receiver() as push_service:
        phone_sub = subscribe(api, phone, push_service, "phone")
        tablet_sub = subscribe(api, tablet, push_service, "tablet")
        push_create(username="alice", application="VPN", source="test")
        received = {path: body for path, _, body in push_service.wait_for(2)}
        time.sleep(0.3)
        assert len(push_service.received) == 2  # the quiet token has no subscription
    assert phone_sub.decrypt(received["/push/phone"])["serial"] == phone.serial
    assert tablet_sub.decrypt(received["/push/tablet"])["serial"] == tablet.serial
    assert quiet.serial  # enrolled, not subscribed


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example/push/x",
        "https://fcm.googleapis.com.evil.example/x",
        "https://user:pw@fcm.googleapis.com/x",
        "ftp://fcm.googleapis.com/x",
        "http://fcm.googleapis.com/x",  # plain http without DEBUG
        "http://127.0.0.1:9/x",
        "not a url",
        # The probe's ways around the allow-list: parsers that disagree.
        "https://127.0.0.1\\.fcm.googleapis.com/x",
        "https://169.254.169.254\\.fcm.googleapis.com/x",
        "https://localhost\\@fcm.googleapis.com/x",
        "https://metadata.google.internal\\.fcm.googleapis.com/",
        "https://fcm.googleapis.com\\@10.0.0.1/x",
        "https://10.0.0.1%2F.fcm.googleapis.com/x",
        "https://fcm.googleapis.com%2e/x",
        "https://fcm.googleapis.com\t/x",
        "https://fcm.googleapis.com /x",
        "https://fcm.googleapis.com/x\\y",
        "https://fcm.googleapis.com:99999/x",
        "https://fcm.googleapis.com#@127.0.0.1/x",
        "https://127.0.0.1\uff0efcm.googleapis.com/x",  # a full-width dot
    ],
)
def test_endpoints_off_the_allow_list_are_refused(api, user, enroll, endpoint):
    device = enroll(user)
    sub = Subscription()
    response = api.post(
        WEBPUSH, device.webpush_body(endpoint, sub.p256dh, sub.auth), format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "endpoint_not_allowed"
    assert not Token.objects.get(serial=device.serial).webpush_endpoint


def test_the_known_push_services_are_allowed(api, user, enroll):
    device = enroll(user)
    sub = Subscription()
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QAbc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
    ):
        body = device.webpush_body(endpoint, sub.p256dh, sub.auth)
        assert api.post(WEBPUSH, body, format="json").status_code == 200, endpoint
    assert Token.objects.get(serial=device.serial).webpush_endpoint.startswith(
        "https://wns2"
    )


def test_a_forged_subscription_is_refused(api, user, enroll):
    device, other = enroll(user), enroll(user)
    sub = Subscription()
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    body = device.webpush_body(endpoint, sub.p256dh, sub.auth)
    for forged in (
        {
            **body,
            "signature": other.webpush_body(endpoint, sub.p256dh, sub.auth)[
                "signature"
            ],
        },
        {**body, "endpoint": endpoint + "x"},  # not what was signed
        {**body, "serial": other.serial},
    ):
        response = api.post(WEBPUSH, forged, format="json")
        assert (
            response.status_code == 403
            and response.json()["error"] == "invalid_signature"
        )
    assert not Token.objects.exclude(webpush_endpoint="").exists()


def test_a_token_that_is_not_active_cannot_subscribe(api, user, enroll):
    """A revoked token keeps its device key (so its app can hear that it was
    revoked); the key must not let it register to be woken."""
    from tokens.services.lifecycle import token_revoke, token_suspend

    sub = Subscription()
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    for stop in (token_suspend, token_revoke):
        device = enroll(user)
        stop(token=Token.objects.get(serial=device.serial), actor="admin:root")
        body = device.webpush_body(endpoint, sub.p256dh, sub.auth)
        assert api.post(WEBPUSH, body, format="json").status_code == 403
    assert not Token.objects.exclude(webpush_endpoint="").exists()


def test_bad_subscription_keys_are_refused(api, user, enroll):
    device = enroll(user)
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    body = device.webpush_body(endpoint, "AAAA", "BBBB")
    response = api.post(WEBPUSH, body, format="json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_new_subscription_replaces_the_old_and_an_empty_one_removes_it(
    api, user, enroll
):
    device = enroll(user)
    for name in ("one", "two"):
        sub = Subscription()
        body = device.webpush_body(
            f"https://fcm.googleapis.com/fcm/send/{name}", sub.p256dh, sub.auth
        )
        assert api.post(WEBPUSH, body, format="json").status_code == 200
    token = Token.objects.get(serial=device.serial)
    assert token.webpush_endpoint.endswith("/two") and token.can_be_woken
    removed = api.post(WEBPUSH, device.webpush_body(""), format="json")
    assert removed.json() == {"state": "unsubscribed"}
    assert not Token.objects.get(serial=device.serial).can_be_woken


def test_a_gone_subscription_is_deleted(api, user, enroll, loopback_push_service):
    device = enroll(user)
    with Receiver(status=410) as push_service:
        subscribe(api, device, push_service)
        push_create(username="alice", application="VPN", source="test")
        push_service.wait_for(1)
        wait_until(lambda: not Token.objects.get(serial=device.serial).webpush_endpoint)
    event = AuditEvent.objects.get(action="webpush.send")
    assert (
        event.outcome,
        event.detail["status"],
        event.detail["subscription_removed"],
    ) == (
        "failure",
        410,
        True,
    )


def test_a_hanging_push_service_delays_no_login(
    api, rp, user, enroll, loopback_push_service, settings, client
):
    """The relying party's push and the portal's login answer while the push
    service still holds the message (it would hold it 10 s)."""
    settings.TESSERA_WEBPUSH_TIMEOUT = 2
    device = enroll(user)
    with Receiver(hold=True) as push_service:
        subscribe(api, device, push_service)
        created = rp.post(
            "/api/v1/auth/push",
            {"username": "alice", "application": "VPN"},
            format="json",
        )
        assert created.status_code == 201
        push_service.wait_for(1)
        assert push_service.answered == []  # still held: the API did not wait
        client.post("/login/", {"username": "alice"})
        page = client.post("/login/continue/", {"password": "correct horse battery"})
        assert page.status_code == 302 and page.url == "/login/push/"
        push_service.wait_for(2)
        assert push_service.answered == []  # the portal did not wait either
        wait_until(
            lambda: (
                AuditEvent.objects.filter(
                    action="webpush.send", outcome="failure"
                ).count()
                == 2
            )
        )
    failed = AuditEvent.objects.filter(action="webpush.send").first()
    assert failed.detail["error"] in ("ReadTimeout", "ConnectionError", "failed")


def test_web_push_can_be_turned_off(api, user, enroll, settings):
    settings.TESSERA_WEBPUSH = False
    device = enroll(user)
    assert api.get(WEBPUSH).json()["error"] == "webpush_off"
    sub = Subscription()
    body = device.webpush_body("https://fcm.googleapis.com/x", sub.p256dh, sub.auth)
    response = api.post(WEBPUSH, body, format="json")
    assert response.status_code == 404 and response.json()["error"] == "webpush_off"
    assert "webpush_public_key" not in device.activation_answer


def test_a_host_that_resolves_to_a_private_address_is_not_sent_to(
    api, user, enroll, settings
):
    """Allowed when registered, refused when sent: every send resolves the
    host again, and loopback, private and link-local addresses are refused
    unless the deployment names the host in TESSERA_WEBPUSH_PRIVATE_HOSTS."""
    settings.DEBUG = True
    settings.TESSERA_WEBPUSH_HOSTS = ["localhost"]
    settings.TESSERA_WEBPUSH_PRIVATE_HOSTS = []
    device = enroll(user)
    with Receiver() as push_service:
        sub = Subscription()
        endpoint = push_service.url("phone").replace("127.0.0.1", "localhost")
        registered = api.post(
            WEBPUSH, device.webpush_body(endpoint, sub.p256dh, sub.auth), format="json"
        )
        assert registered.status_code == 200
        push_create(username="alice", application="VPN", source="test")
        wait_until(lambda: AuditEvent.objects.filter(action="webpush.send").exists())
        time.sleep(0.2)
        assert push_service.received == []
    sent = AuditEvent.objects.get(action="webpush.send")
    assert (sent.outcome, sent.detail["error"]) == ("failure", "refused")


def test_the_request_goes_to_the_address_that_was_checked(monkeypatch):
    """The connection is pinned: no second look-up between check and send
    (DNS rebinding), while the Host header still names the push service."""
    import socket

    from tokens import outbound

    real = socket.getaddrinfo
    looked_up = []

    def resolver(host, port, *args, **kwargs):
        if host == "127.0.0.1":  # an address, as urllib3 connects to it
            return real(host, port, *args, **kwargs)
        looked_up.append(host)
        if host == "push.example":
            return real("127.0.0.1", port, *args, **kwargs)
        raise OSError("no other name resolves in this test")

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    with Receiver() as push_service:
        endpoint = f"http://push.example:{push_service.port}/push/x"
        with pytest.raises(outbound.Refused):
            outbound.pinned_session(endpoint)  # loopback, not allowed
        session = outbound.pinned_session(endpoint, allowed_private=["push.example"])
        answer = session.post(endpoint, data=b"hello", timeout=5)
        path, headers, body = push_service.wait_for(1)[0]
    assert answer.status_code == 201
    assert (path, body) == ("/push/x", b"hello")
    assert headers["host"] == f"push.example:{push_service.port}"
    assert looked_up == ["push.example", "push.example"]  # one per session


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("fd00::1", False),
        ("142.250.185.10", True),
        ("2a00:1450:4001::200e", True),
    ],
)
def test_only_public_addresses_are_public(address, public):
    from tokens.outbound import is_public

    assert is_public(address) is public
