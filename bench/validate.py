"""Passcode-validation throughput against a live Tessera started as bin/run does.

Starts ``bin/run`` in a scratch data directory, enrolls event-based tokens
through the real device protocol (so valid passcodes never run out), then
drives ``/api/v1/auth/validate`` from N concurrent keep-alive connections for
a fixed time per scenario and prints requests/s with p50/p99 latency, beside
the trivial ``/healthz`` endpoint of the same server in the same run.

    .venv/bin/python bench/validate.py --concurrency 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loop import run as run_loop  # noqa: E402
from bench.server import (  # noqa: E402
    context_switches,
    cpu_times,
    manage,
    own_seconds,
    running_server,
    server_cpu_during,
    server_pid,
)
from bench.stats import percentile  # noqa: E402
from tests.device_client import Device  # noqa: E402

PROVISION = """
import json
from django.contrib.auth import get_user_model
from tokens.models import Policy
from tokens.services.apiclients import api_client_create
from tokens.services.enrollment import token_assign
n = {n}
User = get_user_model()
plain = Policy.objects.create(name="bench-hotp", otp_kind="hotp", pin_mode="none",
                              max_tokens_per_user=5, lockout_threshold=10**9)
pinned = Policy.objects.create(name="bench-hotp-pin", otp_kind="hotp",
                               pin_mode="server", lockout_threshold=10**9)
totp = Policy.objects.create(name="bench-totp", otp_kind="totp", pin_mode="none",
                             lockout_threshold=10**9)
out = {{"plain": [], "pin": [], "totp": [], "hotp": []}}
for kind, policy, count in (("plain", plain, n), ("pin", pinned, n),
                            ("totp", totp, {mix} // 2), ("hotp", plain, {mix} // 2)):
    for i in range(count):
        user = User.objects.create_user(f"{{kind}}{{i}}")
        issued = token_assign(user=user, policy=policy, actor="bench")
        out[kind].append({{"username": user.username,
                           "activation": issued.activation_string}})
_, out["key"] = api_client_create(name="bench", actor="bench")
print(json.dumps(out))
"""


SEED_AUDIT = """
import json, random, time
from datetime import timedelta
from django.db import connection, transaction
from django.utils import timezone
from tokens.models import AuditEvent
rows, batch = {rows}, 50_000
rng = random.Random(3)
now = timezone.now()
field = AuditEvent._meta.get_field("created_at")
qn = connection.ops.quote_name
columns = ["created_at", "action", "outcome", "actor", "username", "serial", "source", "ip", "detail"]
sql = (f"INSERT INTO {{qn(AuditEvent._meta.db_table)}} "
       f"({{', '.join(qn(c) for c in columns)}}) VALUES ({{', '.join(['%s'] * len(columns))}})")
detail = json.dumps({{"client": "vpn", "rp_ip": "10.0.0.1"}})
started = time.time()
for first in range(0, rows, batch):
    values = []
    for i in range(first, min(rows, first + batch)):
        at = now - timedelta(seconds=(rows - i) * 90 * 86400 // rows)
        user = rng.randrange(50_000)
        values.append((field.get_db_prep_save(at, connection),
                       "otp.validate" if i % 10 else "push.answer",
                       "success" if rng.random() < 0.9 else "failure", "",
                       f"user{{user}}", f"TSR-{{user // 10000:04d}}-{{user % 10000:04d}}",
                       "api", "10.1.%d.%d" % (user // 256 % 256, user % 256), detail))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, values)
print(json.dumps({{"seconds": time.time() - started}}))
"""


def post_json(base: str, path: str, body: dict, context=None) -> dict:
    req = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10, context=context) as resp:
        return json.loads(resp.read())


def enroll(base: str, activation: str, pin: str, context=None) -> Device:
    """Activate and confirm a device (``context``: an SSLContext for https)."""
    device = Device()
    answer = post_json(
        base, "/api/v1/device/activate", device.activate_body(activation), context
    )
    device.accept_activation(activation, answer)
    post_json(base, "/api/v1/device/confirm", device.confirm_body(pin), context)
    return device


def validation_requests(base: str, manage, n: int, ssl=None, client="bench"):
    """``n`` users with an active HOTP token (activated here), and the two
    functions ``run_scenario`` takes: a valid code for client ``i``, and
    whether the answer accepted it. ``manage`` runs manage.py against the
    server's data."""
    provision = PROVISION.format(n=n, mix=0).replace(
        'name="bench", actor', f'name="{client}", actor'
    )
    provisioned = json.loads(manage("shell", "-c", provision).strip().splitlines()[-1])
    tokens = [
        (t["username"], enroll(base, t["activation"], "", ssl))
        for t in provisioned["plain"]
    ]

    def make(i):
        username, device = tokens[i]
        body = json.dumps({"username": username, "passcode": device.next_code()})
        return "POST", "/api/v1/auth/validate", body.encode(), provisioned["key"]

    def accepted(i, status, payload):
        return status == 200 and json.loads(payload)["result"] == "accept"

    return make, accepted


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time. An
    asyncio protocol rather than streams: the load generator shares the
    machine with the server, so each request's parsing is one pass over the
    bytes received, not a coroutine a header line."""

    def __init__(self, port: int, ssl=None):
        self.port = port
        self.ssl = ssl  # an SSLContext: speak https to a TLS proxy
        self.closing = False  # the server said "Connection: close"
        self.transport = None
        self.buffer = b""
        self.answer = None  # the future of the request under way
        self.lost = False  # the connection is gone

    async def open(self):
        loop = asyncio.get_running_loop()
        extra = {"ssl": self.ssl, "server_hostname": "localhost"} if self.ssl else {}
        await loop.create_connection(lambda: self, "127.0.0.1", self.port, **extra)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.answer is None or self.answer.done():
            return
        lines = self.buffer[:head_end].decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                self.closing = True  # nginx does after 1,000 requests
        end = head_end + 4 + length
        if len(self.buffer) < end:
            return
        body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
        self.answer.set_result((int(lines[0].split()[1]), body))

    def connection_lost(self, exc):
        self.closing = self.lost = True
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(
                exc or ConnectionResetError("the server closed the connection")
            )

    async def request(self, method: str, path: str, body: bytes = b"", key: str = ""):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        if key:
            head += f"Authorization: Bearer {key}\r\n"
        if self.lost:  # between two requests: this one would wait forever
            raise ConnectionResetError("the server closed the connection")
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(head.encode() + b"\r\n" + body)
        return await self.answer

    def close(self):
        self.transport.close()


def measured_scenario(port, seconds, concurrency, make_request, check, ssl=None):
    """``run_scenario`` on the generator's loop, with the server's CPU (the
    rest of the machine) and the generator's own, in ms a request."""
    own = own_seconds()
    result, cpu = server_cpu_during(
        lambda: run_loop(
            run_scenario(port, seconds, concurrency, make_request, check, ssl)
        )
    )
    done = max(result["rps"] * seconds, 1)
    result["cpu_ms"] = cpu * 1000 / done
    result["generator_ms"] = (own_seconds() - own) * 1000 / done
    return result


async def run_scenario(port, seconds, concurrency, make_request, check, ssl=None):
    """Requests/s and latency, counting only answers that arrived inside the
    measured window (a request still running at its end does not count)."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(i):
        nonlocal errors
        conn = Connection(port, ssl)
        await conn.open()
        while time.perf_counter() < deadline:
            method, path, body, key = make_request(i)
            start = time.perf_counter()
            status, payload = await conn.request(method, path, body, key)
            end = time.perf_counter()
            if end > deadline:
                break
            latencies.append(end - start)
            if not check(i, status, payload):
                errors += 1
            if conn.closing:
                conn.close()
                conn = Connection(port, ssl)
                await conn.open()
        conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "n": len(latencies),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--mix-users",
        type=int,
        default=1000,
        help="users of the realistic mix (half TOTP, half HOTP; 0: skip it)",
    )
    parser.add_argument(
        "--wrong-share", type=float, default=0.1, help="share of wrong codes in the mix"
    )
    parser.add_argument(
        "--audit-rows",
        type=int,
        default=0,
        help="audit rows to write before measuring (growth: try 10000000)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure /healthz and every validation scenario this many times",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="DEBUG off with given secrets (no TLS redirect: loopback only)",
    )
    args = parser.parse_args()
    c = args.concurrency

    extra = {}
    if args.production:
        import base64
        import secrets

        extra = dict(
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            TESSERA_PIN_KEY=secrets.token_urlsafe(32),
            TESSERA_SEED_KEYS="k1:"
            + base64.b64encode(secrets.token_bytes(32)).decode(),
        )
    with running_server(extra) as (base, env):
        port = int(base.rsplit(":", 1)[1])
        out = manage(env, "shell", "-c", PROVISION.format(n=c, mix=args.mix_users))
        provisioned = json.loads(out.strip().splitlines()[-1])
        if args.audit_rows:
            out = manage(env, "shell", "-c", SEED_AUDIT.format(rows=args.audit_rows))
            took = json.loads(out.strip().splitlines()[-1])["seconds"]
            print(f"seeded {args.audit_rows:,} audit rows in {took:.0f} s")
        key = provisioned["key"]
        plain = [
            (t["username"], enroll(base, t["activation"], ""))
            for t in provisioned["plain"]
        ]
        pinned = [
            (t["username"], enroll(base, t["activation"], "4821"))
            for t in provisioned["pin"]
        ]

        def validate_request(tokens, pin, wrong=False):
            def make(i):
                username, device = tokens[i]
                code = "000000" if wrong else device.next_code()
                body = json.dumps({"username": username, "passcode": pin + code})
                return "POST", "/api/v1/auth/validate", body.encode(), key

            return make

        def expect(result):
            return lambda i, status, payload: (
                status == 200 and json.loads(payload)["result"] == result
            )

        mix_users = [
            (t["username"], enroll(base, t["activation"], ""))
            for kind in ("totp", "hotp")
            for t in provisioned[kind]
        ]
        rng = random.Random(7)
        totp_users = [u for u in mix_users if u[1].otp["type"] == "totp"]
        hotp_users = [u for u in mix_users if u[1].otp["type"] == "hotp"]
        fresh: dict = {"step": None, "users": []}  # TOTP users unspent this step

        def mix_request(i):
            """A random user: half the time a TOTP user with this step's code
            (once per step: a second login in the same step would be a
            replay), else an HOTP user's next code; a wrong code for the given
            share. Picking is O(1), so the generator's cost stays flat."""
            step = int(time.time()) // 30
            if fresh["step"] != step:
                fresh["step"], fresh["users"] = (
                    step,
                    rng.sample(totp_users, len(totp_users)),
                )
            if rng.random() < 0.5 and fresh["users"]:
                username, device = fresh["users"].pop()
                code = device.code()
            else:
                username, device = rng.choice(hotp_users)
                code = device.next_code()
            if rng.random() < args.wrong_share:
                code = "000000"
            body = json.dumps({"username": username, "passcode": code})
            return "POST", "/api/v1/auth/validate", body.encode(), key

        def mix_check(i, status, payload):
            return status == 200 and json.loads(payload)["result"] in (
                "accept",
                "reject",
            )

        scenarios = [
            (
                "trivial endpoint /healthz",
                lambda i: ("GET", "/healthz", b"", ""),
                lambda i, s, p: s == 200,
            ),
            (
                "validate, valid passcode, no PIN",
                validate_request(plain, ""),
                expect("accept"),
            ),
            (
                "validate, valid server PIN + passcode",
                validate_request(pinned, "4821"),
                expect("accept"),
            ),
            (
                "validate, wrong passcode",
                validate_request(plain, "", wrong=True),
                expect("reject"),
            ),
        ]
        if mix_users:
            scenarios.append(
                (
                    f"realistic mix ({len(mix_users)} users, TOTP+HOTP, "
                    f"{args.wrong_share:.0%} wrong)",
                    mix_request,
                    mix_check,
                )
            )
        print(
            f"Tessera validation benchmark: {c} concurrent clients, "
            f"{args.seconds:g} s per scenario, one daphne process (bin/run, "
            f"{'DEBUG off' if args.production else 'embedded defaults'}), "
            f"{os.cpu_count()} cores, load generator on the same machine"
        )
        results = {}
        # Every round measures /healthz again: the ratios compare figures
        # taken minutes apart on a shared machine otherwise.
        pid = server_pid(port)
        for name, make, check in scenarios * args.rounds:
            (user, system), switches = cpu_times(pid), context_switches(pid)
            r = run_loop(run_scenario(port, args.seconds, c, make, check))
            # The server's own CPU per answered request: what the work
            # costs, apart from how the two cores were shared.
            user_after, system_after = cpu_times(pid)
            n = max(r["n"], 1)
            r["sys_ms"] = (system_after - system) * 1000 / n
            r["cpu_ms"] = (user_after - user) * 1000 / n + r["sys_ms"]
            r["switches"] = (context_switches(pid) - switches) / n
            results[name] = r
            ratio = r["rps"] / results["trivial endpoint /healthz"]["rps"] * 100
            print(
                f"  {name:40s} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                f"p99 {r['p99_ms']:6.1f} ms  server CPU {r['cpu_ms']:.2f} ms/req "
                f"({r['sys_ms']:.2f} system, {r['switches']:.0f} switches)  "
                f"n={r['n']}  errors={r['errors']}  "
                f"({ratio:.0f}% of trivial)"
            )


if __name__ == "__main__":
    main()
