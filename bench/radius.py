"""RADIUS Access-Requests per second beside the same server's REST validation.

Starts Tessera as ``bin/run`` does (one process, SQLite) with RADIUS on a
loopback UDP port, enrolls event-based tokens through the device protocol,
registers a NAS (``manage.py radius_client``, password + passcode), then
keeps N requests outstanding for a fixed time: PAP with the password and a
valid HOTP code, Message-Authenticator on every request and checked on every
reply. Then the same tokens through ``/api/v1/auth/validate`` from N
keep-alive connections. Prints requests/s and p50/p99 of both, and the
ratio (target: RADIUS at least as fast as REST).

With ``--push-waiting 200``: that many users first log in over RADIUS in
push mode and stay waiting on their phones (nobody answers) while the
passcode logins and a page are measured again.

    .venv/bin/python -m bench.radius --concurrency 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyrad import packet as rp  # noqa: E402

from bench.loop import run as run_loop  # noqa: E402
from bench.server import manage, running_server  # noqa: E402
from bench.stats import percentile  # noqa: E402
from bench.validate import enroll, run_scenario  # noqa: E402

PASSWORD = "bench password 1"
PROVISION = """
import json
from django.contrib.auth import get_user_model
from tokens.models import Policy
from tokens.services.apiclients import api_client_create
from tokens.services.enrollment import token_assign
User = get_user_model()
plain = Policy.objects.create(name="bench-hotp", otp_kind="hotp", pin_mode="none",
                              push_enabled=False, lockout_threshold=10**9)
push = Policy.objects.create(name="bench-push", pin_mode="none",
                             number_matching=False, push_lifetime_seconds=600)
out = {{"plain": [], "push": []}}
for kind, policy, count in (("plain", plain, {n}), ("push", push, {waiting})):
    for i in range(count):
        user = User.objects.create_user(f"{{kind}}{{i}}", password="{password}")
        issued = token_assign(user=user, policy=policy, actor="bench")
        out[kind].append({{"username": user.username,
                           "activation": issued.activation_string}})
_, out["key"] = api_client_create(name="bench", actor="bench")
print(json.dumps(out))
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def access_request(secret: bytes, username: str, password: str, ident: int):
    """A PAP Access-Request with Message-Authenticator."""
    from radius.packets import dictionary

    packet = rp.AuthPacket(
        code=rp.AccessRequest,
        id=ident,
        secret=secret,
        dict=dictionary(),
        message_authenticator=True,
        User_Name=username,
    )
    packet["User-Password"] = packet.PwCrypt(password)
    return packet


class Nas(asyncio.DatagramProtocol):
    """One UDP socket with requests outstanding, by identifier."""

    def __init__(self):
        self.waiting: dict[int, tuple[asyncio.Future, object]] = {}

    def datagram_received(self, data, addr):
        found = self.waiting.pop(data[1], None)
        if found is not None and not found[0].done():
            found[0].set_result(data)


async def radius_scenario(
    port, secret, tokens, seconds, concurrency, prefix="", source="127.0.0.1"
):
    """``prefix``: the password in front of each passcode (password +
    passcode mode), or nothing (passcode mode); ``source``: the NAS's
    address."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    endpoints = [
        await loop.create_datagram_endpoint(
            Nas, local_addr=(source, 0), remote_addr=("127.0.0.1", port)
        )
        for _ in range(concurrency)
    ]
    deadline = time.perf_counter() + seconds

    async def worker(i):
        nonlocal errors
        transport, nas = endpoints[i]
        mine = tokens[i::concurrency]
        turn = 0
        while time.perf_counter() < deadline:
            user, device = mine[turn % len(mine)]
            turn += 1
            ident = turn % 256
            packet = access_request(secret, user, prefix + device.next_code(), ident)
            future = loop.create_future()
            nas.waiting[ident] = (future, packet)
            start = time.perf_counter()
            transport.sendto(packet.RequestPacket())
            try:
                answer = await asyncio.wait_for(future, 10)
            except TimeoutError:
                errors += 1
                continue
            end = time.perf_counter()
            if end > deadline:
                break
            latencies.append(end - start)
            reply = packet.CreateReply(packet=answer)
            if not (
                reply.code == rp.AccessAccept
                and packet.VerifyReply(reply, answer, enforce_ma=True)
            ):
                errors += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    for transport, _ in endpoints:
        transport.close()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
        "p99_ms": percentile(latencies, 0.99) * 1000 if latencies else 0,
        "n": len(latencies),
        "errors": errors,
    }


def rest_scenario(port, key, tokens, seconds, concurrency):
    turns = [0] * concurrency

    def make(i):
        mine = tokens[i::concurrency]
        user, device = mine[turns[i] % len(mine)]
        turns[i] += 1
        body = json.dumps({"username": user, "passcode": device.next_code()})
        return "POST", "/api/v1/auth/validate", body.encode(), key

    def check(i, status, payload):
        return status == 200 and json.loads(payload)["result"] == "accept"

    return run_loop(run_scenario(port, seconds, concurrency, make, check))


def start_waiting_pushes(port, secret, users, per_second=8) -> list[socket.socket]:
    """Push logins that stay waiting (from 127.0.0.2, the push NAS): nobody
    answers on the phones, so each socket holds one login open. Started at
    the rate the server hashes passwords (each login checks one first)."""
    sockets = []
    for i, user in enumerate(users):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.2", 0))
        packet = access_request(secret, user, PASSWORD, i % 256)
        sock.sendto(packet.RequestPacket(), ("127.0.0.1", port))
        sockets.append(sock)
        time.sleep(1 / per_second)
    return sockets


COUNT_PENDING = (
    "from tokens.models import PushChallenge as P; "
    "print(P.objects.filter(state='pending', source='radius').count())"
)


def page_latency(base: str, count: int = 30) -> float:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        urllib.request.urlopen(base + "/login/", timeout=30).read()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def report(label, result):
    print(
        f"{label:38s} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:6.1f} ms"
        f"  p99 {result['p99_ms']:6.1f} ms  ({result['n']} answers, "
        f"{result['errors']} errors)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--push-waiting", type=int, default=0)
    args = parser.parse_args()
    udp = free_udp_port()
    env = {"TESSERA_RADIUS_ADDRESS": f"127.0.0.1:{udp}"}
    with running_server(env) as (base, server_env):
        port = int(base.rsplit(":", 1)[1])
        out = manage(
            server_env,
            "shell",
            "-c",
            PROVISION.format(
                n=args.concurrency * 4, waiting=args.push_waiting, password=PASSWORD
            ),
        )
        provisioned = json.loads(out.strip().splitlines()[-1])
        tokens = [
            (item["username"], enroll(base, item["activation"], ""))
            for item in provisioned["plain"]
        ]
        for item in provisioned["push"]:
            enroll(base, item["activation"], "")

        def nas(name, address, mode, *extra):
            made = manage(
                server_env,
                "radius_client",
                name,
                "--address",
                address,
                "--mode",
                mode,
                *extra,
            )
            return json.loads(made.strip().splitlines()[-1])["secret"].encode()

        secret = nas("bench-nas", "127.0.0.1", "passcode")
        both = nas("bench-both", "127.0.0.3", "password+passcode")
        time.sleep(6)  # the server's client list is refreshed every 5 s
        for round_ in range(1, args.rounds + 1):
            radius = run_loop(
                radius_scenario(udp, secret, tokens, args.seconds, args.concurrency)
            )
            rest = rest_scenario(
                port, provisioned["key"], tokens, args.seconds, args.concurrency
            )
            report(f"round {round_}: RADIUS PAP, HOTP passcode", radius)
            report(f"round {round_}: REST validate, HOTP passcode", rest)
            print(
                f"round {round_}: RADIUS / REST = {radius['rps'] / rest['rps']:.2f}"
                " (target >= 1.0)",
                flush=True,
            )
        hashed = run_loop(
            radius_scenario(
                udp,
                both,
                tokens,
                args.seconds,
                args.concurrency,
                prefix=PASSWORD,
                source="127.0.0.3",
            )
        )
        report("RADIUS PAP, password + passcode", hashed)
        print(
            "  (each checks the password with PBKDF2, as the portal does: "
            "its rate is the hash's)",
            flush=True,
        )
        if args.push_waiting:
            push_secret = json.loads(
                manage(
                    server_env,
                    "radius_client",
                    "bench-push",
                    "--address",
                    "127.0.0.2",
                    "--mode",
                    "push",
                    "--push-wait",
                    "120",
                )
                .strip()
                .splitlines()[-1]
            )["secret"].encode()
            print(f"page /login/ p50 before: {page_latency(base):.1f} ms", flush=True)
            time.sleep(6)
            held = start_waiting_pushes(
                udp, push_secret, [u["username"] for u in provisioned["push"]]
            )
            time.sleep(3)
            pending = manage(server_env, "shell", "-c", COUNT_PENDING).split()[-1]
            print(f"push logins waiting on phones: {pending}", flush=True)
            radius = run_loop(
                radius_scenario(udp, secret, tokens, args.seconds, args.concurrency)
            )
            report(f"with {len(held)} push logins waiting: RADIUS", radius)
            print(
                f"page /login/ p50 while they wait: {page_latency(base):.1f} ms",
                flush=True,
            )
            for sock in held:
                sock.close()


if __name__ == "__main__":
    main()
