"""/ws/device/ (PROTOCOL §4–§5) and the login page's /ws/push/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from tests.ws.test_token_status import run_async
from tokens.consumers import PUSH_SESSION_KEY, DeviceConsumer, PushStatusConsumer
from tokens.events import push_group
from tokens.models import PushChallenge
from tokens.services.push import push_create

pytestmark = pytest.mark.django_db(transaction=True)


def device_socket():
    comm = WebsocketCommunicator(DeviceConsumer.as_asgi(), "/ws/device/")
    comm.scope["client"] = ("198.51.100.20", 5000)
    return comm


async def connect(comm) -> str:
    connected, _ = await comm.connect()
    assert connected
    hello = await comm.receive_json_from()
    assert hello["type"] == "hello" and len(hello["nonce"]) == 43
    return hello["nonce"]


async def authenticate(comm, device) -> None:
    nonce = await connect(comm)
    await comm.send_json_to(device.auth_frame(nonce))
    assert await comm.receive_json_from() == {"type": "ready", "serial": device.serial}


create = database_sync_to_async(
    lambda **kw: push_create(
        username="alice", application=kw.pop("application", "VPN"), source="t", **kw
    )
)


def test_it_authenticates_and_delivers_pending_then_new_challenges(user, enroll):
    device = enroll(user)

    async def run():
        waiting = await create()
        comm = device_socket()
        await authenticate(comm, device)
        first = await comm.receive_json_from()
        assert first["id"] == str(waiting.pk) and first["type"] == "challenge"
        assert first["numbers"] == waiting.numbers
        live = await create(application="Mail", ip="203.0.113.7")
        second = await comm.receive_json_from()
        assert (second["id"], second["application"], second["ip"]) == (
            str(live.pk),
            "Mail",
            "203.0.113.7",
        )
        await comm.disconnect()

    run_async(run)


def test_a_forged_or_replayed_auth_is_refused(user, enroll):
    device, other = enroll(user), enroll(user)

    async def run():
        first = device_socket()
        old_nonce = await connect(first)
        replayed = device.auth_frame(old_nonce)
        await first.disconnect()
        comm = device_socket()
        nonce = await connect(comm)
        # A signature over another socket's nonce, and one by another key.
        await comm.send_json_to(replayed)
        refused = await comm.receive_json_from()
        assert (refused["type"], refused["error"]) == ("error", "invalid_signature")
        forged = {
            **device.auth_frame(nonce),
            "signature": other.sign(f"tessera/v1/ws|{nonce}"),
        }
        await comm.send_json_to(forged)
        assert (await comm.receive_json_from())["error"] == "invalid_signature"
        # No challenge reaches an unauthenticated socket.
        await create()
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    run_async(run)


def test_repeated_failures_close_the_socket(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await connect(comm)
        for _ in range(DeviceConsumer.MAX_FAILURES):
            await comm.send_json_to(device.auth_frame("wrong nonce"))
            await comm.receive_json_from()
        assert (await comm.receive_output())["type"] == "websocket.close"

    run_async(run)


def test_malformed_frames_get_an_error_not_a_crash(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        for text in (
            "not json",
            "[1, 2]",
            '{"type": "hello"}',
            '{"type": "auth", "serial": 5, "signature": []}',
            '{"type": "answer", "id": "x", "extra": 1}',
        ):
            await comm.send_to(text_data=text)
            reply = await comm.receive_json_from()
            assert reply["type"] == "error", text
        await comm.send_json_to(
            {
                "type": "answer",
                "id": "nope",
                "serial": device.serial,
                "decision": "approve",
                "number": "",
                "signature": "",
            }
        )
        assert (await comm.receive_json_from())["error"] == "invalid_request"
        await comm.disconnect()

    run_async(run)


def joins_counted(layer) -> list:
    """The groups consumers join from now on (``layer.group_add`` calls)."""
    joined = []
    add = layer.group_add

    async def counting(group, channel):
        joined.append(group)
        await add(group, channel)

    layer.group_add = counting
    return joined


async def both_shown_a_push(layer, phone, tablet):
    """Two devices' sockets, a push to both; which groups they joined."""
    a, b = device_socket(), device_socket()
    await authenticate(a, phone)
    await authenticate(b, tablet)
    joined = joins_counted(layer)
    challenge = await create()
    for comm in (a, b):
        assert (await comm.receive_json_from())["id"] == str(challenge.pk)
    return a, b, challenge, joined


def test_the_first_valid_answer_wins_and_a_second_is_ignored(user, enroll):
    phone, tablet = enroll(user), enroll(user)
    layer = get_channel_layer()
    left = []

    async def run():
        a, b, challenge, joined = await both_shown_a_push(layer, phone, tablet)
        assert len(layer.groups[push_group(challenge.pk)]) == 2  # both follow it
        # Made members as the challenge was sent to them, not by joining
        # (a trip to Redis each, in production).
        assert joined == []
        discard = layer.group_discard

        async def counted(group, channel):
            left.append(group)
            await discard(group, channel)

        layer.group_discard = counted
        await a.send_json_to(
            phone.answer_frame(str(challenge.pk), "approve", challenge.number)
        )
        assert await a.receive_json_from() == {
            "type": "answer.result",
            "id": str(challenge.pk),
            "state": "approved",
        }
        # The other device hears that the request is closed; the one that
        # answered has its result and hears nothing more (PROTOCOL §5).
        assert await b.receive_json_from() == {
            "type": "challenge.closed",
            "id": str(challenge.pk),
            "state": "approved",
        }
        assert await a.receive_nothing(timeout=0.3)
        # The outcome ended the push's group as it was sent: neither device
        # had to leave it.
        assert push_group(challenge.pk) not in layer.groups and left == []
        await b.send_json_to(tablet.answer_frame(str(challenge.pk), "deny", ""))
        late = await b.receive_json_from()
        assert (late["error"], late["id"]) == ("already_answered", str(challenge.pk))
        await a.disconnect()
        await b.disconnect()

    try:
        run_async(run)
    finally:
        layer.__dict__.pop("group_discard", None)
        layer.__dict__.pop("group_add", None)


def test_on_a_layer_that_cannot_enlist_the_devices_join_the_push(user, enroll):
    """Channels' own layers send a challenge without making its devices
    members of the push's group: each device joins it, and hears it end."""
    phone, tablet = enroll(user), enroll(user)
    layer = get_channel_layer()

    async def run():
        a, b, challenge, joined = await both_shown_a_push(layer, phone, tablet)
        assert joined == [push_group(challenge.pk)] * 2
        await a.send_json_to(
            phone.answer_frame(str(challenge.pk), "approve", challenge.number)
        )
        assert (await a.receive_json_from())["state"] == "approved"
        closed = await b.receive_json_from()
        assert (closed["type"], closed["state"]) == ("challenge.closed", "approved")
        await a.disconnect()
        await b.disconnect()

    layer.group_send_enlisting = None  # as a layer without it
    try:
        run_async(run)
    finally:
        layer.__dict__.pop("group_send_enlisting", None)
        layer.__dict__.pop("group_add", None)
    assert PushChallenge.objects.get().state == "approved"


def test_a_wrong_number_over_the_socket_denies(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        challenge = await create()
        await comm.receive_json_from()
        wrong = next(n for n in challenge.numbers if n != challenge.number)
        await comm.send_json_to(
            device.answer_frame(str(challenge.pk), "approve", wrong)
        )
        result = await comm.receive_json_from()
        assert (result["state"], result["reason"]) == ("denied", "wrong_number")
        await comm.disconnect()

    run_async(run)


def test_a_late_answer_over_the_socket_is_refused(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        challenge = await create()
        await comm.receive_json_from()
        await database_sync_to_async(
            PushChallenge.objects.filter(pk=challenge.pk).update
        )(expires_at=timezone.now() - timedelta(seconds=1))
        await comm.send_json_to(
            device.answer_frame(str(challenge.pk), "approve", challenge.number)
        )
        replies = [await comm.receive_json_from(), await comm.receive_json_from()]
        assert {
            "type": "challenge.closed",
            "id": str(challenge.pk),
            "state": "expired",
        } in replies
        assert any(r.get("error") == "expired" for r in replies)
        await comm.disconnect()

    run_async(run)


def push_page(session):
    comm = WebsocketCommunicator(PushStatusConsumer.as_asgi(), "/ws/push/")
    comm.scope["session"] = session
    return comm


def test_the_login_page_socket_needs_a_push_in_its_session():
    async def run():
        connected, code = await push_page({}).connect()
        assert not connected and code == 4403

    run_async(run)


def test_the_login_page_follows_its_push_to_approval(user, enroll):
    device = enroll(user)

    async def run():
        challenge = await create()
        page = push_page({PUSH_SESSION_KEY: {"id": str(challenge.pk)}})
        assert (await page.connect())[0]
        assert await page.receive_json_from() == {"type": "push", "state": "pending"}
        phone = device_socket()
        await authenticate(phone, device)
        await phone.receive_json_from()
        await phone.send_json_to(
            device.answer_frame(str(challenge.pk), "approve", challenge.number)
        )
        assert await page.receive_json_from() == {"type": "push", "state": "approved"}
        await page.disconnect()
        await phone.disconnect()

    run_async(run)


def test_the_login_page_hears_the_expiry_on_time(user, enroll):
    enroll(user)

    async def run():
        challenge = await create()
        await database_sync_to_async(
            PushChallenge.objects.filter(pk=challenge.pk).update
        )(expires_at=timezone.now() + timedelta(seconds=0.5))
        page = push_page({PUSH_SESSION_KEY: {"id": str(challenge.pk)}})
        assert (await page.connect())[0]
        assert await page.receive_json_from() == {"type": "push", "state": "pending"}
        assert await page.receive_json_from(timeout=3) == {
            "type": "push",
            "state": "expired",
        }
        await page.disconnect()

    run_async(run)


def test_the_device_socket_needs_no_origin_but_page_sockets_do(user, enroll):
    from config.asgi import application

    device = enroll(user)

    async def run():
        native = WebsocketCommunicator(application, "/ws/device/")
        await authenticate(native, device)  # no Origin header: a native client
        await native.disconnect()
        for path in ("/ws/push/", "/ws/token-status/"):
            page = WebsocketCommunicator(application, path)
            connected, _ = await page.connect()
            assert not connected, path
            foreign = WebsocketCommunicator(
                application, path, headers=[(b"origin", b"https://evil.example")]
            )
            connected, _ = await foreign.connect()
            assert not connected, path

    run_async(run)


def test_only_an_authenticated_token_may_answer_on_the_socket(user, enroll):
    device = enroll(user)

    async def run():
        challenge = await create()
        frame = device.answer_frame(str(challenge.pk), "approve", challenge.number)
        comm = device_socket()
        await connect(comm)  # hello, but no auth
        await comm.send_json_to(frame)
        refused = await comm.receive_json_from()
        assert (refused["error"], refused["id"]) == ("not_authenticated", frame["id"])
        for _ in range(DeviceConsumer.MAX_FAILURES - 1):
            await comm.send_json_to(frame)
            await comm.receive_json_from()
        assert (await comm.receive_output())["type"] == "websocket.close"
        state = await database_sync_to_async(
            lambda: PushChallenge.objects.get(pk=challenge.pk).state
        )()
        assert state == "pending"

    run_async(run)


def test_page_sockets_answer_junk_with_an_error(user, enroll):
    enroll(user)

    async def run():
        challenge = await create()
        page = push_page({PUSH_SESSION_KEY: {"id": str(challenge.pk)}})
        assert (await page.connect())[0]
        await page.receive_json_from()
        for junk in ("not json", '{"type": "approve"}'):
            await page.send_to(text_data=junk)
            assert (await page.receive_json_from())["type"] == "error"
        await page.disconnect()

    run_async(run)


def test_frames_and_events_reach_the_consumer_without_a_database_hop(
    user, enroll, monkeypatch
):
    """Channels would hop to the database thread before every message
    (``aclose_old_connections``); the consumers dispatch directly, and their
    database calls close stale connections themselves."""
    import channels.consumer

    hops = []

    async def counted():
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)  # frames: auth
        live = await create()  # an event: push.challenge
        delivered = await comm.receive_json_from()
        assert delivered["id"] == str(live.pk)
        await comm.send_json_to(device.answer_frame(str(live.pk), "deny", ""))
        result = await comm.receive_json_from()
        assert result["type"] == "answer.result"
        await comm.disconnect()

    run_async(run)
    assert hops == []
    assert PushChallenge.objects.get().state == "denied"


def test_a_message_without_a_handler_is_an_error():
    from tokens.dispatch import DirectDispatch

    class Bare(DirectDispatch):
        pass

    with pytest.raises(ValueError, match="No handler for message type x.y"):
        run_async(lambda: Bare().dispatch({"type": "x.y"}))
