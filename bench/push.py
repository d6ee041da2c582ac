"""Push latency with many devices connected, beside a bare websocket echo.

Starts ``bin/run`` (embedded defaults, one daphne process) in a scratch data
directory with the echo socket on, provisions N users each with an active
push token bound to a device key made here, connects all N devices to
``/ws/device/`` (signed-nonce authentication, PROTOCOL §4) and keeps them
connected. Then, one push at a time:

- delivery: ``POST /api/v1/auth/push`` → the device receives the challenge,
  measured from the challenge's ``created`` time (set by the server before
  it writes the row) to its arrival on the device's socket;
- answer: the device sends its signed approval → the relying application's
  waiting ``GET /api/v1/auth/push/<id>?wait=25`` returns;
- echo: the round trip of one message on ``/ws/echo/`` of the same server,
  measured between pushes, in the same run.

    .venv/bin/python bench/push.py --devices 1000 --pushes 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import websockets
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loop import run as run_loop  # noqa: E402
from bench.server import manage, rss_mb, running_server, server_pid  # noqa: E402
from bench.stats import percentile  # noqa: E402
from bench.validate import Connection  # noqa: E402
from tests.device_client import Device, raw_public  # noqa: E402

PROVISION = """
import json
from django.contrib.auth import get_user_model
from django.utils import timezone
from tokens.models import Policy, Token
from tokens.services.apiclients import api_client_create
devices = json.load(open({path!r}))
# No token PIN: these devices answer with version 1 (a token-PIN policy would
# rightly ask them for the PIN's proof).
policy = Policy.objects.create(name="bench-push", pin_mode="none",
                               push_deny_cooldown_seconds=0)
User = get_user_model()
# In batches: PostgreSQL binding the parameters takes at most 65,535 of them
# in one statement.
users = User.objects.bulk_create(
    [User(username=f"push{{i}}", password="!") for i in range(len(devices))],
    batch_size=2000,
)
now = timezone.now()
Token.objects.bulk_create([
    Token(user=user, name="bench", serial=d["serial"], policy=policy,
          state="active", confirmed=True, activated_at=now,
          device_public_key=bytes.fromhex(d["key"]))
    for user, d in zip(users, devices)
], batch_size=2000)
_, key = api_client_create(name="bench", actor="bench")
print(json.dumps({{"key": key}}))
"""


def make_devices(n: int) -> tuple[list[Device], str]:
    """``n`` devices with their own keys and serials, and the path of the
    JSON file ``PROVISION`` reads to bind a user's token to each."""
    devices = []
    for i in range(n):
        device = Device(key=ec.generate_private_key(ec.SECP256R1()))
        device.serial = f"TSR-9{i // 1000:03d}-{i % 1000:04d}"
        devices.append(device)
    spec = [{"serial": d.serial, "key": raw_public(d.key).hex()} for d in devices]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    return devices, f.name


def line(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"  {name:<44} p50 {statistics.median(ms):7.2f} ms  "
        f"p99 {percentile(ms, 0.99):7.2f} ms  max {max(ms):7.2f} ms  n={len(ms)}"
    )


class ConnectedDevice:
    def __init__(self, device: Device):
        self.device = device
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def connect(self, url: str, origin: str):
        self.socket = await websockets.connect(url, origin=origin, max_queue=None)
        hello = json.loads(await self.socket.recv())
        await self.socket.send(json.dumps(self.device.auth_frame(hello["nonce"])))
        ready = json.loads(await self.socket.recv())
        assert ready["type"] == "ready", ready
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        async for text in self.socket:
            self.inbox.put_nowait((time.time(), json.loads(text)))


async def measure(base: str, key: str, devices: list[Device], pushes: int):
    host = base.removeprefix("http://")
    port = int(host.rsplit(":", 1)[1])
    connected = [ConnectedDevice(d) for d in devices]
    gate = asyncio.Semaphore(50)

    async def connect(item):
        async with gate:
            await item.connect(f"ws://{host}/ws/device/", base)

    pid = server_pid(port)
    rss_before = rss_mb(pid)
    began = time.perf_counter()
    await asyncio.gather(*(connect(c) for c in connected))
    connect_seconds = time.perf_counter() - began
    rss_after = rss_mb(pid)
    print(
        f"  server RSS {rss_before:.1f} MB -> {rss_after:.1f} MB with "
        f"{len(connected)} device sockets "
        f"({(rss_after - rss_before) * 1024 / len(connected):.1f} KB a socket; "
        f"target: 10,000 within 600 MB)",
        flush=True,
    )
    echo = await websockets.connect(f"ws://{host}/ws/echo/", origin=base)
    api, poll = Connection(port), Connection(port)
    await api.open()
    await poll.open()

    echo_rtt, delivery, answer = [], [], []
    for i in range(pushes):
        start = time.perf_counter()
        await echo.send('{"type":"ping"}')
        await echo.recv()
        echo_rtt.append(time.perf_counter() - start)

        target = connected[(i * 7919) % len(connected)]
        body = json.dumps(
            {
                "username": f"push{(i * 7919) % len(connected)}",
                "application": f"bench-{i}",
            }
        ).encode()
        status, payload = await api.request("POST", "/api/v1/auth/push", body, key)
        assert status == 201, payload
        started = json.loads(payload)
        # Frames of an earlier request to this device (its answer.result or
        # challenge.closed, arriving late) are not this challenge.
        while True:
            received_at, challenge = await asyncio.wait_for(target.inbox.get(), 10)
            if challenge.get("type") == "challenge":
                break
        assert challenge["id"] == started["id"], challenge
        created = datetime.fromisoformat(challenge["created"]).timestamp()
        delivery.append(received_at - created)

        waiting = asyncio.create_task(
            poll.request("GET", f"/api/v1/auth/push/{started['id']}?wait=25", b"", key)
        )
        await asyncio.sleep(0.05)  # the long-poll has subscribed
        frame = target.device.answer_frame(started["id"], "approve", started["number"])
        sent = time.perf_counter()
        await target.socket.send(json.dumps(frame))
        status, payload = await waiting
        answer.append(time.perf_counter() - sent)
        assert json.loads(payload)["state"] == "approved", payload
    await echo.close()
    for c in connected:
        c.reader.cancel()
        await c.socket.close()
    return connect_seconds, echo_rtt, delivery, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument(
        "--redis",
        action="store_true",
        help="use the Redis channel layer (a redis-server started here), as "
        "several server processes would",
    )
    args = parser.parse_args()

    devices, spec = make_devices(args.devices)

    # Every simulated device comes from 127.0.0.1: lift the per-address cap.
    extra = {"TESSERA_WS_ECHO": "1", "TESSERA_WS_PER_ADDRESS": str(args.devices + 10)}
    redis = None
    if args.redis:
        from tests.servers import free_port, start_redis, stop

        port = free_port()
        redis = start_redis(port)
        extra["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    try:
        with running_server(extra) as (base, env):
            key = json.loads(
                manage(env, "shell", "-c", PROVISION.format(path=spec))
                .strip()
                .splitlines()[-1]
            )["key"]
            connect_seconds, echo_rtt, delivery, answer = run_loop(
                measure(base, key, devices, args.pushes)
            )
    finally:
        if redis is not None:
            stop(redis)
    layer = "Redis channel layer" if args.redis else "in-memory channel layer"
    Path(spec).unlink()
    print(
        f"Tessera push benchmark: {args.devices} device websockets connected to one "
        f"daphne process (bin/run: SQLite, {layer}), {args.pushes} pushes one "
        f"at a time, 2 cores, load generator on the same machine"
    )
    print(
        f"  connecting and authenticating {args.devices} devices took "
        f"{connect_seconds:.1f} s"
    )
    print(line("bare websocket echo, round trip", echo_rtt))
    print(line("push delivery (created -> device receives)", delivery))
    print(line("answer (device answers -> long-poll returns)", answer))
    e99 = percentile(echo_rtt, 0.99)
    for name, values in (("delivery", delivery), ("answer", answer)):
        ratio = percentile(values, 0.99) / e99
        verdict = "MET" if ratio <= 2 else "NOT MET"
        print(f"  {name} p99 = {ratio:.1f}x echo p99 (target <= 2x): {verdict}")


if __name__ == "__main__":
    main()
