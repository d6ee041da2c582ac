"""CPU per request of validation beside /healthz, in one process, no network.

The live benchmark (bench/validate.py) shares two cores between the server
and its load generator, so one run differs from the next by ±15%. This one
calls Tessera's ASGI application directly, one request at a time, on an
embedded SQLite database in a scratch directory, and prints the process CPU
each request cost: the marginal cost of a validation over the trivial
endpoint, steady enough to compare two versions of the code.

    .venv/bin/python bench/inprocess.py --requests 3000 [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.update(
    TESSERA_DATA_DIR=tempfile.mkdtemp(prefix="tessera-inprocess-"),
    SITE_URL="http://127.0.0.1:8000",
    TESSERA_DEVICE_THROTTLE="100000/minute",
    LOG_LEVEL="WARNING",
)


async def call(app, method: str, path: str, body: bytes = b"", key: str = ""):
    headers = [(b"host", b"127.0.0.1:8000")]
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = [{"type": "http.request", "body": body, "more_body": False}]
    out: dict = {"body": b""}

    async def receive():
        if sent:
            return sent.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the validations")
    args = parser.parse_args()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.validate import PROVISION
    from config.asgi import application
    from tests.device_client import Device

    printed = io.StringIO()  # PROVISION prints the accounts
    with contextlib.redirect_stdout(printed):
        exec(PROVISION.format(n=1, mix=0), {})
    provisioned = json.loads(printed.getvalue().strip().splitlines()[-1])
    key = provisioned["key"]

    async def run():
        activation = provisioned["plain"][0]["activation"]
        username = provisioned["plain"][0]["username"]
        device = Device()
        status, answer = await call(
            application,
            "POST",
            "/api/v1/device/activate",
            json.dumps(device.activate_body(activation)).encode(),
        )
        device.accept_activation(activation, json.loads(answer))
        status, _ = await call(
            application,
            "POST",
            "/api/v1/device/confirm",
            json.dumps(device.confirm_body("")).encode(),
        )
        assert status == 200, status

        async def healthz():
            return await call(application, "GET", "/healthz")

        async def validate():
            body = json.dumps({"username": username, "passcode": device.next_code()})
            status, payload = await call(
                application, "POST", "/api/v1/auth/validate", body.encode(), key
            )
            assert status == 200 and b"accept" in payload, (status, payload)

        async def wrong():
            body = json.dumps({"username": username, "passcode": "000000"})
            status, payload = await call(
                application, "POST", "/api/v1/auth/validate", body.encode(), key
            )
            assert status == 200 and b"reject" in payload, (status, payload)

        async def measure(fn, n, profiler=None):
            for _ in range(50):  # warm up
                await fn()
            cpu = time.process_time()
            if profiler:
                profiler.enable()
            for _ in range(n):
                await fn()
            if profiler:
                profiler.disable()
            return (time.process_time() - cpu) * 1000 / n

        profiler = cProfile.Profile() if args.profile else None
        rounds = []
        for _ in range(args.rounds):
            h = await measure(healthz, args.requests)
            v = await measure(validate, args.requests, profiler)
            w = await measure(wrong, args.requests)
            rounds.append((h, v, w))
            print(
                f"CPU per request: /healthz {h:.3f} ms, validate {v:.3f} ms "
                f"({h / v:.0%} of trivial; marginal {v - h:.3f} ms), "
                f"wrong code {w:.3f} ms ({h / w:.0%})"
            )
        # The machine's noise only ever adds time: the lowest of the rounds
        # is the closest to what the code itself costs.
        h, v, w = (min(r[i] for r in rounds) for i in range(3))
        print(
            f"lowest of {args.rounds} rounds: /healthz {h:.3f} ms, validate "
            f"{v:.3f} ms ({h / v:.0%}; marginal {v - h:.3f} ms), wrong code "
            f"{w:.3f} ms ({h / w:.0%})"
        )
        if profiler:
            profiler.dump_stats(args.profile)

    asyncio.run(run())


if __name__ == "__main__":
    main()
