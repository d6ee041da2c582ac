"""A soak run (not CI): moderate load for a long time with devices connected.

Starts Tessera as bin/run does, connects N device websockets, then for the
given minutes sends validations (HOTP, a share wrong) at a steady rate and a
push now and then that a device approves. Prints, each minute: errors, the
server's RSS, database connections held (open SQLite files, or PostgreSQL
backends with --postgres-url), and that minute's validation p99; at the end,
errors (must be 0) and RSS growth from the first minute (must be < 10%).

    .venv/bin/python bench/soak.py --minutes 20 --devices 1000 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loop import run as run_loop  # noqa: E402
from bench.push import PROVISION as PUSH_PROVISION  # noqa: E402
from bench.push import ConnectedDevice  # noqa: E402
from bench.server import manage, rss_mb, running_server, server_pid  # noqa: E402
from bench.stats import percentile  # noqa: E402
from bench.validate import Connection, enroll  # noqa: E402
from tests.device_client import Device, raw_public  # noqa: E402

VALIDATORS = """
import json
from django.contrib.auth import get_user_model
from tokens.models import Policy
from tokens.services.enrollment import token_assign
policy = Policy.objects.create(name="soak-hotp", otp_kind="hotp", pin_mode="none",
                               lockout_threshold=10**9)
out = []
for i in range({n}):
    user = get_user_model().objects.create_user(f"soak{{i}}")
    out.append({{"username": user.username,
                 "activation": token_assign(user=user, policy=policy, actor="soak").activation_string}})
print(json.dumps(out))
"""


def db_connections(pid: int, data_dir: str) -> int:
    """Open handles on the SQLite database file (one per thread connection)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(data_dir) and ".sqlite3" in os.readlink(fd):
                count += 1
        except OSError:
            pass
    return count


class AnswerError(Exception):
    pass


async def frame_of(target, kind: str, ident: str) -> dict:
    """The next frame of ``kind`` about request ``ident``. Frames of earlier
    requests (a challenge.closed that came after the inbox was drained) are
    skipped, not taken for this one."""
    while True:
        _, frame = await asyncio.wait_for(target.inbox.get(), 10)
        if frame.get("type") == kind and frame.get("id") == ident:
            return frame


async def answer_push(target, started: dict) -> None:
    """The device receives the request, approves it, and hears it approved."""
    await frame_of(target, "challenge", started["id"])
    frame = target.device.answer_frame(started["id"], "approve", started["number"])
    await target.socket.send(json.dumps(frame))
    result = await frame_of(target, "answer.result", started["id"])
    if result.get("state") != "approved":
        raise AnswerError(str(result))


async def soak(base, key, env, devices, validators, args):
    port = int(base.rsplit(":", 1)[1])
    pid = server_pid(port)
    connected = [ConnectedDevice(d) for d in devices]
    gate = asyncio.Semaphore(50)

    async def connect(item):
        async with gate:
            await item.connect(base.replace("http", "ws") + "/ws/device/", base)

    await asyncio.gather(*(connect(c) for c in connected))
    api = Connection(port)
    await api.open()
    errors = 0
    reasons: Counter = Counter()
    first_rss = None
    interval = 1 / args.rate
    print(
        f"soak: {len(connected)} devices connected; {args.rate}/s validations, "
        f"a push every {args.push_every} s, {args.minutes} minutes",
        flush=True,
    )
    for minute in range(1, args.minutes + 1):
        latencies = []
        end = time.monotonic() + 60
        next_push = time.monotonic()
        i = 0
        while time.monotonic() < end:
            username, device = validators[i % len(validators)]
            code = "000000" if i % 10 == 0 else device.next_code()
            body = json.dumps({"username": username, "passcode": code}).encode()
            start = time.perf_counter()
            status, payload = await api.request(
                "POST", "/api/v1/auth/validate", body, key
            )
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors += 1
                reasons[f"validate {status}"] += 1
            if time.monotonic() >= next_push:
                next_push += args.push_every
                target = connected[i % len(connected)]
                push = json.dumps(
                    {
                        "username": f"push{i % len(connected)}",
                        "application": f"soak-{minute}-{i}",
                    }
                ).encode()
                status, payload = await api.request(
                    "POST", "/api/v1/auth/push", push, key
                )
                if status != 201:
                    errors += 1
                    reasons[f"push {status} {payload[:60]!r}"] += 1
                else:
                    started = json.loads(payload)
                    try:
                        await answer_push(target, started)
                    except TimeoutError:
                        errors += 1
                        reasons["push timeout"] += 1
                    except AnswerError as exc:
                        errors += 1
                        reasons[f"answer {str(exc)[:80]}"] += 1
            i += 1
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - start)))
        rss = rss_mb(pid)
        first_rss = first_rss or rss
        print(
            f"  minute {minute:3d}: errors {errors}  RSS {rss:7.1f} MB  "
            f"db connections {db_connections(pid, env['TESSERA_DATA_DIR'])}  "
            f"validation p99 {percentile(sorted(latencies), 0.99) * 1000:6.1f} ms  "
            f"n={len(latencies)}",
            flush=True,
        )
    growth = (rss - first_rss) / first_rss * 100
    for reason, count in reasons.most_common():
        print(f"  error: {reason} x{count}")
    print(
        f"soak: errors {errors} (must be 0); RSS {first_rss:.1f} -> {rss:.1f} MB, "
        f"growth {growth:.1f}% (must be < 10%): "
        f"{'MET' if errors == 0 and growth < 10 else 'NOT MET'}"
    )
    for c in connected:
        c.reader.cancel()
        await c.socket.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=20)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="validations per second")
    parser.add_argument("--push-every", type=float, default=2.0, help="seconds")
    args = parser.parse_args()
    devices = []
    for i in range(args.devices):
        device = Device()
        device.serial = f"SOAK-{i:05d}"
        devices.append(device)
    spec = [{"serial": d.serial, "key": raw_public(d.key).hex()} for d in devices]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    extra = {"TESSERA_WS_PER_ADDRESS": str(args.devices + 10)}
    with running_server(extra) as (base, env):
        key = json.loads(
            manage(env, "shell", "-c", PUSH_PROVISION.format(path=f.name))
            .strip()
            .splitlines()[-1]
        )["key"]
        issued = json.loads(
            manage(env, "shell", "-c", VALIDATORS.format(n=50)).strip().splitlines()[-1]
        )
        validators = [
            (t["username"], enroll(base, t["activation"], "")) for t in issued
        ]
        run_loop(soak(base, key, env, devices, validators, args))


if __name__ == "__main__":
    main()
