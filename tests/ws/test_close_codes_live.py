"""Close codes through real daphne: it lets an application close a socket
with 1000 or 3000–4999 only. RFC 6455's 1009 or 1011 raised inside the
consumer instead, killed it before its disconnect ran, and so leaked the
address's socket slot (the communicator in test_hostile_frames cannot see
this: it takes any code)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.servers import ARTIFACTS, free_port, start_daphne, stop
from tests.ws.test_token_status import run_async

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_over_size_frame_closes_with_4009_and_frees_the_slot(transactional_db):
    port = free_port()
    server = start_daphne(port, {"TESSERA_WS_PER_ADDRESS": "1"}, "close-codes.log")
    url, origin = f"ws://127.0.0.1:{port}/ws/device/", f"http://127.0.0.1:{port}"
    try:

        async def run():
            for _ in range(3):  # the one slot is free again each time
                socket = await websockets.connect(url, origin=origin)
                assert json.loads(await socket.recv())["type"] == "hello"
                await socket.send('{"type": "auth", "serial": "' + "x" * 5000)
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(socket.recv(), 5)
                assert socket.close_code == 4009
                await asyncio.sleep(0.2)  # daphne tells the consumer

        run_async(run)
    finally:
        stop(server)
    log = (ARTIFACTS / "close-codes.log").read_text()
    assert "Exception inside application" not in log, log
    assert "invalid close code" not in log, log
