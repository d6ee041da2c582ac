"""token.info: the app hears its token's names and state, signed, on the
socket (when it asks), live when the token changes, and with every poll."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.ws.test_device_socket import connect, device_socket
from tests.ws.test_token_status import run_async
from tokens.models import Token
from tokens.services import lifecycle, portal
from tokens.services.push.devices import device_poll

pytestmark = pytest.mark.django_db(transaction=True)


def token_of(device):
    return Token.objects.select_related("user").get(serial=device.serial)


async def informed(comm, device):
    nonce = await connect(comm)
    await comm.send_json_to(device.auth_frame(nonce, info=True))
    assert await comm.receive_json_from() == {"type": "ready", "serial": device.serial}
    return await comm.receive_json_from()


def test_the_activation_answer_names_issuer_account_and_token(user, enroll, settings):
    settings.TESSERA_ISSUER = "Example Corp"
    device = enroll(user)
    answer = device.activation_answer
    assert (answer["issuer"], answer["account"]) == ("Example Corp", "alice")
    assert answer["name"] == token_of(device).name
    assert "info_key" not in str(answer)  # derived on both sides, never sent


def test_a_rename_and_a_suspension_reach_the_connected_app_signed(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        first = await informed(comm, device)
        assert first["type"] == "token.info" and first["state"] == "active"
        assert device.trusts(first)
        await database_sync_to_async(portal.token_rename)(
            token=await database_sync_to_async(token_of)(device),
            name="Work laptop VPN",
            actor="user:alice",
        )
        renamed = await comm.receive_json_from()
        assert renamed["name"] == "Work laptop VPN" and device.trusts(renamed)
        await database_sync_to_async(lifecycle.token_suspend)(
            token=await database_sync_to_async(token_of)(device), actor="admin:root"
        )
        suspended = await comm.receive_json_from()
        assert suspended["state"] == "suspended" and device.trusts(suspended)
        await database_sync_to_async(lifecycle.token_resume)(
            token=await database_sync_to_async(token_of)(device), actor="admin:root"
        )
        assert (await comm.receive_json_from())["state"] == "active"
        await comm.disconnect()

    run_async(run)


def test_a_revoked_token_learns_it_at_its_next_start_and_nobody_else_does(user, enroll):
    device, other = enroll(user), enroll(user)
    lifecycle.token_revoke(token=token_of(device), actor="user:alice")

    async def run():
        comm = device_socket()
        nonce = await connect(comm)
        await comm.send_json_to(device.auth_frame(nonce, info=True))
        info = await comm.receive_json_from()
        assert info["type"] == "token.info" and info["state"] == "revoked"
        assert device.trusts(info) and not other.trusts(info)
        error = await comm.receive_json_from()
        assert error["error"] == "token_inactive"
        # A socket that cannot prove the key hears nothing about the token.
        stranger = device_socket()
        nonce = await connect(stranger)
        forged = {**other.auth_frame(nonce, info=True), "serial": device.serial}
        await stranger.send_json_to(forged)
        refused = await stranger.receive_json_from()
        assert refused["type"] == "error" and refused["error"] == "invalid_signature"
        await comm.disconnect()
        await stranger.disconnect()

    run_async(run)


def test_the_poll_carries_the_signed_info_and_no_requests_when_inactive(user, enroll):
    device = enroll(user)
    lifecycle.token_suspend(token=token_of(device), actor="admin:root")
    headers = device.poll_headers()
    polled = device_poll(
        serial=headers["X-Tessera-Serial"],
        timestamp=headers["X-Tessera-Time"],
        signature=headers["X-Tessera-Signature"],
    )
    assert polled["challenges"] == [] and polled["token"]["state"] == "suspended"
    assert device.trusts(polled["token"])
    tampered = {**polled["token"], "state": "active"}
    assert not device.trusts(tampered)


def test_a_client_that_does_not_ask_gets_the_version_1_sequence(user, enroll):
    device = enroll(user)

    async def run():
        comm = device_socket()
        nonce = await connect(comm)
        await comm.send_json_to(device.auth_frame(nonce))
        assert (await comm.receive_json_from())["type"] == "ready"
        await database_sync_to_async(portal.token_rename)(
            token=await database_sync_to_async(token_of)(device),
            name="Renamed",
            actor="user:alice",
        )
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()

    run_async(run)


def test_deleting_the_token_in_the_app_revokes_it_on_the_server(user, enroll, api):
    import time

    from tokens.models import AuditEvent

    device = enroll(user)
    now = str(int(time.time()))
    body = {
        "serial": device.serial,
        "time": now,
        "signature": device.sign(f"tessera/v1/remove|{device.serial}|{now}"),
    }
    forged = {**body, "signature": enroll(user).sign("tessera/v1/remove|x|1")}
    assert api.post("/api/v1/device/remove", forged, format="json").status_code == 403
    assert token_of(device).state == "active"

    done = api.post("/api/v1/device/remove", body, format="json")

    assert done.status_code == 200 and done.json() == {"state": "revoked"}
    assert token_of(device).state == "revoked"
    assert AuditEvent.objects.filter(action="device.remove", serial=device.serial)
    again = api.post("/api/v1/device/remove", body, format="json")
    assert again.status_code == 200  # repeating it is harmless


def test_a_replaced_device_hears_it_and_gets_no_more_requests(user, enroll, api):
    """Admin "Replace device" (or the user's move): the old device hears
    nothing while the new one merely activates; when the new one confirms,
    the old one is told, with its own key, and drops out."""
    from tests.device_client import Device
    from tokens.services.enrollment import enrollment_issue
    from tokens.services.push import push_create

    old = enroll(user)

    async def run():
        comm = device_socket()
        assert (await informed(comm, old))["state"] == "active"
        issued = await database_sync_to_async(enrollment_issue)(
            token=await database_sync_to_async(token_of)(old), actor="admin:root"
        )
        new = Device()
        answer = await database_sync_to_async(api.post)(
            "/api/v1/device/activate",
            new.activate_body(issued.activation_string),
            format="json",
        )
        assert answer.status_code == 200
        assert await comm.receive_nothing(timeout=0.3)  # not cut off early
        new.accept_activation(issued.activation_string, answer.json())
        confirmed = await database_sync_to_async(api.post)(
            "/api/v1/device/confirm", new.confirm_body(), format="json"
        )
        assert confirmed.status_code == 200, confirmed.content
        told = await comm.receive_json_from()
        assert told["state"] == "revoked" and old.trusts(told)
        assert not new.trusts(told)
        await database_sync_to_async(push_create)(
            username="alice", application="VPN", source="t"
        )
        assert await comm.receive_nothing(timeout=0.3)  # no request reaches it
        await comm.disconnect()

    run_async(run)
