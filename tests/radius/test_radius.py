"""RADIUS logins against a live Tessera, with a pyrad NAS that requires
Message-Authenticator: each mode, pushes approved by the device client while
the request waits, retransmissions, and hostile packets."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from pyrad import packet as rp
from pyrad.client import Timeout

from tests.radius.conftest import Radius, message, state
from tokens.models import AuditEvent, PushChallenge

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"


@pytest.fixture
def alice(transactional_db):
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def hotp(make_policy):
    return make_policy(otp_kind="hotp", pin_mode="none", push_enabled=False)


def approve_on_phone(live, device, decision="approve", timeout=15.0):
    """The device client, as PROTOCOL §4 lets one without a socket: poll the
    pending requests (signed), then answer the first (signed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            live.url + "/api/v1/device/challenges", headers=device.poll_headers()
        )
        pending = json.loads(urllib.request.urlopen(request, timeout=5).read())
        if pending["challenges"]:
            challenge = pending["challenges"][0]
            number = ""
            if challenge.get("numbers"):
                right = PushChallenge.objects.get(pk=challenge["id"]).number
                number = right
            frame = device.answer_frame(challenge["id"], decision, number)
            body = json.dumps(frame).encode()
            answer = urllib.request.Request(
                live.url + "/api/v1/device/answer",
                body,
                headers={"Content-Type": "application/json"},
            )
            return json.loads(urllib.request.urlopen(answer, timeout=5).read())
        time.sleep(0.1)
    raise AssertionError("no push reached the phone")


def in_background(fn, *args):
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


# --- modes ----------------------------------------------------------------


def test_password_and_passcode_in_one_field_accepts_a_code_once(
    live, nas, alice, enroll, hotp
):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    code = device.next_code()
    reply = radius.login("alice", PASSWORD + code)
    assert reply.code == rp.AccessAccept
    assert reply.raw_packet[20] == 80  # Message-Authenticator comes first
    again = radius.login("alice", PASSWORD + code)  # a new request, same code
    assert again.code == rp.AccessReject
    assert message(again) == "Access denied."
    wrong = radius.login("alice", "wrong" + device.next_code())
    nobody = radius.login("nobody", PASSWORD + device.next_code())
    assert (wrong.code, nobody.code) == (rp.AccessReject, rp.AccessReject)
    assert message(wrong) == message(nobody) == "Access denied."
    assert (
        AuditEvent.objects.filter(
            action="otp.validate", source="radius", outcome="success"
        ).count()
        == 1
    )


def test_a_server_pin_token_takes_its_pin_in_front_of_the_passcode(
    live, nas, alice, enroll, make_policy
):
    policy = make_policy(otp_kind="hotp", pin_mode="server", push_enabled=False)
    device = enroll(alice, policy, server_pin="4821")
    radius = Radius(live, nas("password+passcode"))
    assert radius.login("alice", "4821" + device.next_code()).code == rp.AccessAccept
    refused = radius.login("alice", PASSWORD + device.next_code())
    assert refused.code == rp.AccessReject


def test_passcode_only_mode(live, nas, alice, enroll, hotp):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("passcode"))
    assert radius.login("alice", device.next_code()).code == rp.AccessAccept
    assert radius.login("alice", "000000").code == rp.AccessReject


def test_challenge_mode_asks_for_the_passcode_with_a_state_bound_to_the_user(
    live, nas, alice, enroll, hotp
):
    device = enroll(alice, hotp)
    get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    radius = Radius(live, nas("challenge"))
    first = radius.login("alice", PASSWORD)
    assert first.code == rp.AccessChallenge
    assert "passcode" in message(first)
    assert "phone" not in message(first)  # alice has no push token
    # Another user cannot answer alice's challenge, and a state works once.
    assert radius.login("bob", device.code(), state(first)).code == rp.AccessReject
    second = radius.login("alice", PASSWORD)
    done = radius.login("alice", device.next_code(), state(second))
    assert done.code == rp.AccessAccept
    assert radius.login("alice", device.next_code(), state(second)).code == (
        rp.AccessReject
    )
    assert radius.login("alice", "wrong").code == rp.AccessReject  # no challenge


def test_push_mode_waits_for_the_phone_and_accepts_the_approval(
    live, nas, alice, enroll, make_policy
):
    device = enroll(alice, make_policy(pin_mode="none", number_matching=False))
    radius = Radius(live, nas("push", push_wait_seconds=20), timeout=25)
    waiting, result = in_background(radius.login, "alice", PASSWORD)
    answered = approve_on_phone(live, device)
    waiting.join(30)
    assert answered["state"] == "approved"
    assert result["value"].code == rp.AccessAccept
    challenge = PushChallenge.objects.get()
    assert (challenge.application, challenge.source) == ("VPN", "radius")
    assert challenge.used_at is not None  # spent on this one login


def test_a_denied_push_rejects_at_once(live, nas, alice, enroll, make_policy):
    device = enroll(alice, make_policy(pin_mode="none", number_matching=False))
    radius = Radius(live, nas("push", push_wait_seconds=20), timeout=25)
    waiting, result = in_background(radius.login, "alice", PASSWORD)
    approve_on_phone(live, device, "deny")
    waiting.join(30)
    assert result["value"].code == rp.AccessReject


def test_an_unanswered_push_falls_back_to_a_passcode(
    live, nas, alice, enroll, make_policy
):
    device = enroll(alice, make_policy(pin_mode="none", number_matching=False))
    radius = Radius(live, nas("push", push_wait_seconds=1), timeout=10)
    first = radius.login("alice", PASSWORD)
    assert first.code == rp.AccessChallenge
    assert "No answer from your phone" in message(first)
    done = radius.login("alice", device.code(time.time() + 30), state(first))
    assert done.code == rp.AccessAccept


def test_with_number_matching_the_prompt_shows_the_number_then_waits(
    live, nas, alice, enroll, make_policy
):
    device = enroll(alice, make_policy(pin_mode="none", number_matching=True))
    radius = Radius(live, nas("push", push_wait_seconds=20), timeout=25)
    first = radius.login("alice", PASSWORD)
    assert first.code == rp.AccessChallenge
    number = PushChallenge.objects.get().number
    assert f"pick {number}" in message(first)
    waiting, result = in_background(radius.login, "alice", "", state(first))
    approve_on_phone(live, device)
    waiting.join(30)
    assert result["value"].code == rp.AccessAccept


# --- the wire -------------------------------------------------------------


def raw_exchange(live, datagram: bytes, timeout: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(datagram, (live.host, live.port))
        try:
            return sock.recv(4096)
        except TimeoutError:
            return None


def test_a_retransmission_is_answered_from_the_cache_not_evaluated_again(
    live, nas, alice, enroll, hotp
):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    datagram = radius.request("alice", PASSWORD + device.next_code()).RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(datagram, (live.host, live.port))
        first = sock.recv(4096)
        sock.sendto(datagram, (live.host, live.port))  # the NAS retries
        second = sock.recv(4096)
    assert first == second and first[0] == rp.AccessAccept
    assert (
        AuditEvent.objects.filter(action="otp.validate", source="radius").count() == 1
    )


def test_requests_without_a_valid_message_authenticator_are_dropped(
    live, nas, alice, enroll, hotp
):
    device = enroll(alice, hotp)
    secret = nas("password+passcode")
    radius = Radius(live, secret)
    bare = radius.request("alice", PASSWORD + device.next_code())
    bare.message_authenticator = None
    bare.pop(80, None)
    assert raw_exchange(live, bare.RequestPacket()) is None
    forged = bytearray(radius.request("alice", PASSWORD).RequestPacket())
    forged[-1] ^= 1  # the Message-Authenticator's last byte
    assert raw_exchange(live, bytes(forged)) is None
    wrong_secret = Radius(live, "not the secret at all")
    with pytest.raises(Timeout):
        wrong_secret.login("alice", PASSWORD + device.next_code())
    reasons = set(
        AuditEvent.objects.filter(action="radius.dropped").values_list(
            "detail__reason", flat=True
        )
    )
    assert {"no Message-Authenticator", "wrong Message-Authenticator"} <= reasons


def test_a_client_may_be_relaxed_to_accept_requests_without_one(
    live, nas, alice, enroll, hotp
):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode", require_message_authenticator=False))
    bare = radius.request("alice", PASSWORD + device.next_code())
    bare.message_authenticator = None
    bare.pop(80, None)
    answer = raw_exchange(live, bare.RequestPacket())
    assert answer is not None and answer[0] == rp.AccessAccept


def test_proxy_state_is_echoed(live, nas, alice, enroll, hotp):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    packet = radius.request("alice", PASSWORD + device.next_code())
    packet["Proxy-State"] = b"\x01\x02proxy"
    reply = radius.send(packet)
    assert reply.code == rp.AccessAccept
    assert reply["Proxy-State"] == [b"\x01\x02proxy"]


def header(code, ident, length, rest=b"\x00" * 16) -> bytes:
    return struct.pack("!BBH", code, ident, length) + rest


@pytest.mark.parametrize(
    "datagram",
    [
        b"\x01\x02",  # short
        header(1, 1, 10),  # length field below 20
        header(1, 1, 200),  # length field past the datagram
        header(1, 1, 4097) + b"\x00" * 4077,  # 4097 bytes
        header(1, 1, 22) + b"\x01\x01",  # an attribute too short
        header(2, 1, 20),  # an Access-Accept sent to the server
    ],
)
def test_malformed_packets_are_dropped_without_a_traceback(live, nas, datagram):
    nas("password+passcode")
    assert raw_exchange(live, datagram, timeout=1) is None
    health = urllib.request.urlopen(live.url + "/healthz", timeout=5)
    assert health.status == 200


def test_a_duplicated_user_name_is_dropped(live, nas, alice, enroll, hotp):
    enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    packet = radius.request("alice", PASSWORD + "123456")
    packet.AddAttribute("User-Name", "root")
    assert raw_exchange(live, packet.RequestPacket()) is None


def test_unknown_attributes_are_ignored(live, nas, alice, enroll, hotp):
    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    packet = radius.request("alice", PASSWORD + device.next_code())
    packet[200] = [b"vendor junk"]
    assert radius.send(packet).code == rp.AccessAccept


def test_a_source_no_client_covers_is_dropped_and_audited_once(live, nas):
    secret = nas("password+passcode", networks="10.9.0.0/16")
    radius = Radius(live, secret)
    for _ in range(3):
        assert (
            raw_exchange(live, radius.request("alice", "x" * 10).RequestPacket(), 1)
            is None
        )
    time.sleep(0.5)
    dropped = AuditEvent.objects.filter(
        action="radius.dropped", detail__reason="unknown client"
    )
    assert dropped.count() == 1 and dropped.get().ip == "127.0.0.1"


def test_no_password_or_passcode_reaches_the_log(live, nas, alice, enroll, hotp):
    from tests.servers import ARTIFACTS

    device = enroll(alice, hotp)
    radius = Radius(live, nas("password+passcode"))
    code = device.next_code()
    radius.login("alice", PASSWORD + code)
    radius.login("alice", "wrong-password" + device.next_code())
    log = (ARTIFACTS / "radius-server.log").read_text()
    audit = json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))
    for secret in (PASSWORD, "wrong-password"):
        assert secret not in log and secret not in audit
    assert "Traceback" not in log
