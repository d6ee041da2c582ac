"""Hostile websocket traffic: error frames and clean refusals, never a crash."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from tests.ws.test_device_socket import authenticate, connect, device_socket
from tests.ws.test_token_status import run_async
from tokens.consumers import DeviceConsumer
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_deeply_nested_frame_gets_an_error_and_the_socket_stays_up(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        await comm.send_to(text_data="[" * 2000 + "]" * 2000)
        reply = await comm.receive_json_from()
        assert (reply["type"], reply["error"]) == ("error", "invalid_frame")
        await comm.send_to(text_data='{"a":' * 600 + "1" + "}" * 600)
        assert (await comm.receive_json_from())["error"] == "invalid_frame"
        # Still up: a good frame is still answered.
        await comm.send_json_to({**device.auth_frame("x"), "serial": device.serial})
        assert (await comm.receive_json_from())["error"] == "invalid_signature"
        await comm.disconnect()

    run_async(run)


@pytest.mark.parametrize("field", ["serial", "signature", "id", "decision", "otp"])
@pytest.mark.parametrize("value", [["a", "b"], {"x": 1}, 7, True])
def test_a_field_of_the_wrong_type_gets_an_error_frame(user, enroll, field, value):
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        frame = device.answer_frame("00000000-0000-0000-0000-000000000000", "deny")
        await comm.send_json_to({**frame, field: value})
        reply = await comm.receive_json_from()
        assert (reply["type"], reply["error"]) == ("error", "invalid_frame")
        assert field in reply["detail"]
        await comm.send_json_to({"type": "auth", "serial": value, "signature": "x"})
        assert (await comm.receive_json_from())["error"] == "invalid_frame"
        assert await comm.receive_nothing(timeout=0.1)  # not closed
        await comm.disconnect()

    run_async(run)


@pytest.mark.parametrize("path", ["/", "/admin/", "/ws/x", "/ws/device/extra"])
def test_a_websocket_to_a_path_without_a_route_is_refused_cleanly(path):
    from config.asgi import application

    async def run():
        comm = WebsocketCommunicator(
            application, path, headers=[(b"origin", b"http://localhost:8000")]
        )
        connected, code = await comm.connect(timeout=3)
        assert not connected
        await comm.wait(timeout=1)  # the app finished without an exception

    run_async(run)


def test_a_socket_that_never_authenticates_is_closed(settings):
    settings.TESSERA_WS_AUTH_SECONDS = 0.3

    async def run():
        comm = device_socket()
        await connect(comm)
        reply = await comm.receive_json_from(timeout=2)
        assert reply["error"] == "auth_timeout"
        closed = await comm.receive_output(timeout=2)
        assert closed == {"type": "websocket.close", "code": 4408}
        await comm.disconnect()

    run_async(run)


def test_an_authenticated_socket_outlives_the_auth_deadline(user, enroll, settings):
    settings.TESSERA_WS_AUTH_SECONDS = 0.3
    device = enroll(user)

    async def run():
        comm = device_socket()
        await authenticate(comm, device)
        assert await comm.receive_nothing(timeout=0.6)
        await comm.disconnect()

    run_async(run)


def test_one_address_may_hold_only_so_many_device_sockets(settings):
    settings.TESSERA_WS_PER_ADDRESS = 3

    async def run():
        held = [device_socket() for _ in range(3)]
        for comm in held:
            await connect(comm)
        extra = device_socket()
        connected, _ = await extra.connect()
        assert not connected
        other = WebsocketCommunicator(DeviceConsumer.as_asgi(), "/ws/device/")
        other.scope["client"] = ("198.51.100.99", 5000)
        await connect(other)  # another address is not affected
        await held[0].disconnect()
        again = device_socket()
        await connect(again)  # a closed socket frees its place
        for comm in (*held[1:], other, again):
            await comm.disconnect()

    run_async(run)
    refused = AuditEvent.objects.get(action="device.socket_refused")
    assert refused.ip == "198.51.100.20"


def test_junk_frames_count_toward_closing_and_are_audited_once():
    async def run():
        comm = device_socket()
        await connect(comm)
        for _ in range(DeviceConsumer.MAX_FAILURES):
            await comm.send_to(text_data="junk")
            await comm.receive_json_from()
        assert (await comm.receive_output())["type"] == "websocket.close"
        await comm.disconnect()

    run_async(run)
    events = AuditEvent.objects.filter(action="device.frames_refused")
    assert events.count() == 1
    assert events.get().detail == {
        "count": DeviceConsumer.MAX_FAILURES,
        "closed_for_failures": True,
    }


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(settings):
    settings.TESSERA_WS_PER_ADDRESS = 1

    async def run():
        first = WebsocketCommunicator(
            DeviceConsumer.as_asgi(),
            "/ws/device/",
            headers=[(b"x-forwarded-for", b"203.0.113.1")],
        )
        first.scope["client"] = ("198.51.100.20", 5000)
        await connect(first)
        second = WebsocketCommunicator(
            DeviceConsumer.as_asgi(),
            "/ws/device/",
            headers=[(b"x-forwarded-for", b"203.0.113.2")],
        )
        second.scope["client"] = ("198.51.100.20", 5001)
        assert not (await second.connect())[0]  # same peer, whatever the header
        await first.disconnect()

    run_async(run)


def test_an_over_long_serial_in_a_socket_auth_is_refused_and_audited_cut():
    async def run():
        comm = device_socket()
        await connect(comm)
        await comm.send_json_to(
            {"type": "auth", "serial": "S" * 4000, "signature": "x"}
        )
        reply = await comm.receive_json_from()
        assert (reply["error"], reply["serial"]) == ("invalid_signature", "S" * 16)
        await comm.disconnect()

    run_async(run)
    event = AuditEvent.objects.get(action="device.connect")
    assert event.serial == "S" * 16


def test_a_lone_surrogate_in_a_frame_gets_an_error_and_leaks_no_socket_slot(
    settings,
):
    """The probe's frame: ``"serial": "\\ud800"`` closed the socket with 1011
    and kept one of the address's socket slots; 50 of them locked the
    address out until a restart."""
    settings.TESSERA_WS_PER_ADDRESS = 2
    frame = '{"type": "auth", "serial": "\\ud800", "signature": "x"}'

    async def run():
        for _ in range(5):
            comm = device_socket()
            await connect(comm)
            await comm.send_to(text_data=frame)
            reply = await comm.receive_json_from()
            assert (reply["type"], reply["error"]) == ("error", "invalid_frame")
            await comm.disconnect()
        assert DeviceConsumer.open_per_address["198.51.100.20"] == 0
        for _ in range(2):  # the address still gets its sockets
            await connect(device_socket())

    run_async(run)


def test_a_frame_that_fails_unexpectedly_closes_with_4011_and_frees_the_slot(
    settings, monkeypatch
):
    settings.TESSERA_WS_PER_ADDRESS = 1

    def broken(**kwargs):
        raise RuntimeError("a fault nobody foresaw")

    monkeypatch.setattr("tokens.consumers.device.device_authenticate", broken)

    async def run():
        comm = device_socket()
        await connect(comm)
        await comm.send_json_to({"type": "auth", "serial": "x", "signature": "x"})
        closed = await comm.receive_output()
        assert closed == {"type": "websocket.close", "code": 4011}
        await comm.disconnect()  # what daphne delivers after the close
        assert DeviceConsumer.open_per_address["198.51.100.20"] == 0
        await connect(device_socket())  # the one slot is free again

    run_async(run)


def test_an_over_size_frame_closes_the_socket_with_4009():
    async def run():
        comm = device_socket()
        await connect(comm)
        await comm.send_to(text_data='{"type": "auth", "serial": "' + "x" * 5000)
        closed = await comm.receive_output()
        assert closed == {"type": "websocket.close", "code": 4009}
        await comm.disconnect()

    run_async(run)
