"""A Monday-morning login storm: many devices connected, users logging in by
push through the relying-party API at a rising rate.

Each login is what a relying application and a person do: ``POST
/api/v1/auth/push`` (create), the challenge reaches the user's phone over its
websocket (delivery), the phone sends its signed approval with the number
the application showed (the person's tap costs nothing here), and the
application's long-poll ``GET /api/v1/auth/push/<id>?wait=25`` answers
(answer). Per step of the rising rate it prints complete logins per second,
p50/p99 of each leg and of the whole login, errors, and the server's CPU per
login; then the highest rate whose p99 stays under one second with no error,
beside the same shape's passcode validations per second (the median of two
runs before the storm and two after; target: push logins/s >= 1/3 of it; a
push login is three requests).

    .venv/bin/python bench/storm.py --devices 10000                  # bin/run
    .venv/bin/python bench/storm.py --devices 10000 --production 2   # nginx, PG, Redis
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.loop import run as run_loop  # noqa: E402
from bench.push import PROVISION as PUSH_PROVISION  # noqa: E402
from bench.push import make_devices  # noqa: E402
from bench.server import (  # noqa: E402
    busy_seconds,
    cpu_times,
    manage,
    own_seconds,
    running_server,
    server_pid,
)
from bench.stats import percentile  # noqa: E402
from bench.validate import (  # noqa: E402
    Connection,
    measured_scenario,
    validation_requests,
)
from tests.device_client import Device  # noqa: E402


class Phone:
    """One user's phone: its socket answers every challenge at once."""

    def __init__(self, device: Device, numbers: dict, legs: dict):
        self.device, self.numbers, self.legs = device, numbers, legs

    async def connect(self, url: str, origin: str, ssl) -> None:
        # A browser's WebSocket never pings (the websockets library would,
        # every 20 s: 500 extra exchanges a second for 10,000 phones); it
        # answers the server's pings, and so does the library.
        self.socket = await websockets.connect(
            url, origin=origin, ssl=ssl, max_queue=None, ping_interval=None
        )
        hello = json.loads(await self.socket.recv())
        await self.socket.send(json.dumps(self.device.auth_frame(hello["nonce"])))
        ready = json.loads(await self.socket.recv())
        assert ready["type"] == "ready", ready
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for text in self.socket:
            message = json.loads(text)
            if message.get("type") != "challenge":
                continue
            received = time.time()
            created = datetime.fromisoformat(message["created"]).timestamp()
            self.legs["delivery"].append(received - created)
            # The number the application shows (the person reads and taps it).
            number = await self.numbers.setdefault(
                message["id"], asyncio.get_running_loop().create_future()
            )
            frame = self.device.answer_frame(message["id"], "approve", number)
            self.legs["sent"][message["id"]] = time.perf_counter()
            await self.socket.send(json.dumps(frame))


class Pool:
    """Keep-alive HTTP connections for the relying application."""

    def __init__(self, port: int, ssl):
        self.port, self.ssl = port, ssl
        self.free: list[Connection] = []

    async def take(self) -> Connection:
        if self.free:
            return self.free.pop()
        conn = Connection(self.port, self.ssl)
        await conn.open()
        return conn

    def give(self, conn: Connection) -> None:
        if conn.closing:  # the server closes it after this answer
            conn.close()
        else:
            self.free.append(conn)


async def one_login(pool, key, username, numbers, legs, results) -> None:
    began = time.perf_counter()
    conn = await pool.take()
    try:
        body = json.dumps({"username": username, "application": "VPN"}).encode()
        status, payload = await conn.request("POST", "/api/v1/auth/push", body, key)
        created = time.perf_counter()
        if status != 201:
            results["errors"].append(f"create {status} {payload[:80]!r}")
            return
        started = json.loads(payload)
        numbers.setdefault(
            started["id"], asyncio.get_running_loop().create_future()
        ).set_result(started["number"])
        status, payload = await conn.request(
            "GET", f"/api/v1/auth/push/{started['id']}?wait=25", b"", key
        )
        done = time.perf_counter()
        state = json.loads(payload).get("state") if status == 200 else status
        if state != "approved":
            results["errors"].append(f"wait {state}")
            return
        sent = legs["sent"].pop(started["id"], done)
        numbers.pop(started["id"], None)
        results["create"].append(created - began)
        results["answer"].append(done - sent)
        results["total"].append(done - began)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        results["errors"].append(type(exc).__name__)
        return
    pool.give(conn)


async def storm(site, key, devices, args, daphne_pids) -> list[dict]:
    host = site["base"].split("://", 1)[1]
    scheme = "wss" if site["ssl"] else "ws"
    numbers: dict = {}
    legs = {"delivery": [], "sent": {}}
    phones = [Phone(d, numbers, legs) for d in devices]
    gate = asyncio.Semaphore(100)

    async def connect(phone):
        async with gate:
            await phone.connect(
                f"{scheme}://{host}/ws/device/", site["base"], site["ssl"]
            )

    began = time.perf_counter()
    await asyncio.gather(*(connect(p) for p in phones))
    print(
        f"  {len(phones)} phones connected and authenticated in "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    # What the connected phones cost with no login at all (the server's
    # pings, the sockets' own upkeep): a share of a core.
    busy, own = busy_seconds(), own_seconds()
    daphne = sum(sum(cpu_times(pid)) for pid in daphne_pids)
    await asyncio.sleep(args.step_seconds)
    idle = (busy_seconds() - busy) - (own_seconds() - own)
    daphne = sum(sum(cpu_times(pid)) for pid in daphne_pids) - daphne
    print(
        f"  idle, {len(phones)} phones connected: server "
        f"{idle * 100 / args.step_seconds:.0f} % of a core "
        f"(daphne {daphne * 100 / args.step_seconds:.0f} %)",
        flush=True,
    )
    pool = Pool(site["port"], site["ssl"])
    steps = []
    user = 0
    for rate in args.rates:
        results = {"create": [], "answer": [], "total": [], "errors": []}
        legs["delivery"].clear()
        busy, own = busy_seconds(), own_seconds()
        daphne = sum(sum(cpu_times(pid)) for pid in daphne_pids)
        tasks = []
        start = time.perf_counter()
        count = int(rate * args.step_seconds)
        for k in range(count):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(
                    one_login(
                        pool, key, f"push{user % len(phones)}", numbers, legs, results
                    )
                )
            )
            user += 1
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        generator = own_seconds() - own
        server_cpu = busy_seconds() - busy - generator
        daphne = sum(sum(cpu_times(pid)) for pid in daphne_pids) - daphne
        done = len(results["total"])
        step = {
            "rate": rate,
            "logins_per_s": done / elapsed,
            "errors": len(results["errors"]),
            "cpu_ms": server_cpu * 1000 / max(done, 1),
            "daphne_ms": daphne * 1000 / max(done, 1),
            "generator_ms": generator * 1000 / max(done, 1),
            **{
                leg: (
                    statistics.median(results[leg]) * 1000,
                    percentile(results[leg], 0.99) * 1000,
                )
                for leg in ("create", "answer", "total")
                if results[leg]
            },
            "delivery": (
                statistics.median(legs["delivery"]) * 1000,
                percentile(legs["delivery"], 0.99) * 1000,
            )
            if legs["delivery"]
            else (0, 0),
        }
        steps.append(step)
        print(report(step), flush=True)
        if results["errors"]:
            print(f"    first errors: {results['errors'][:3]}", flush=True)
        if step["errors"] or step.get("total", (0, 10**9))[1] > 2000:
            break  # past the knee: the next step would only queue
    for phone in phones:
        phone.reader.cancel()
        await phone.socket.close()
    # The server is busy for a while after 10,000 sockets close (each leaves
    # its groups): validations measured then would be measured against that.
    quiet = await until_quiet()
    print(
        f"  the server was quiet again {quiet:.1f} s after the phones left", flush=True
    )
    return steps


async def until_quiet(limit: float = 60, share: float = 0.1) -> float:
    """Seconds until the machine spends under ``share`` of a core in a
    second beside this process (at most ``limit``)."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        busy, own = busy_seconds(), own_seconds()
        await asyncio.sleep(1)
        if (busy_seconds() - busy) - (own_seconds() - own) < share:
            break
    return time.perf_counter() - began


def report(step: dict) -> str:
    legs = "  ".join(
        f"{leg} {step[leg][0]:.0f}/{step[leg][1]:.0f}"
        for leg in ("create", "delivery", "answer", "total")
        if leg in step
    )
    return (
        f"  offered {step['rate']:5.0f}/s: {step['logins_per_s']:6.1f} logins/s  "
        f"p50/p99 ms: {legs}  errors={step['errors']}  server CPU "
        f"{step['cpu_ms']:.1f} ms/login (daphne {step['daphne_ms']:.1f}; the "
        f"load generator {step['generator_ms']:.1f})"
    )


def shown(runs: list[dict]) -> str:
    return ", ".join(
        f"{r['rps']:.0f}/s (server {r['cpu_ms']:.2f} ms, generator "
        f"{r['generator_ms']:.2f} ms a validation)"
        for r in runs
    )


def validation_meter(site, env_manage):
    """A function that measures the same shape's passcode validations/s
    (16 clients, valid HOTP) for ``seconds``; its users are made once."""
    make, accepted = validation_requests(
        site["base"], env_manage, 16, site["ssl"], client="bench-validate"
    )

    def measure(seconds: float) -> dict:
        """Validations/s, and the server's and the generator's CPU a
        validation (ms)."""
        return measured_scenario(site["port"], seconds, 16, make, accepted, site["ssl"])

    return measure


@contextmanager
def embedded(extra):
    with running_server(extra) as (base, env):
        port = int(base.rsplit(":", 1)[1])
        yield (
            {"base": base, "port": port, "ssl": None},
            lambda *a: manage(env, *a),
            [server_pid(port)],
        )


@contextmanager
def production(extra, processes: int):
    from tests.production import Postgres, Production
    from tests.servers import free_port, start_redis, stop

    postgres = Postgres(durable=True)
    redis_port = free_port()
    redis = start_redis(redis_port)
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    site = None
    try:
        site = Production(
            Path(tempfile.mkdtemp(prefix="tessera-storm-")),
            postgres.url,
            f"redis://127.0.0.1:{redis_port}/0",
            processes,
        )
        state = Path(site.env["TESSERA_DATA_DIR"]) / "nginx"
        pids = [int((state / f"p{i + 1}.pid").read_text()) for i in range(processes)]
        yield (
            {"base": site.base, "port": site.port, "ssl": site.ssl},
            site.manage,
            pids,
        )
    finally:
        if site is not None:
            site.stop()
        stop(redis)
        postgres.remove()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.split(",")],
        # Finer near where this machine's knee is, so the highest clean rate
        # is found to within 10 logins/s there.
        default=[10, 20, 40, 60, 80, 100, *range(110, 200, 10), 200, 220, 250],
    )
    parser.add_argument("--step-seconds", type=float, default=8)
    parser.add_argument(
        "--production",
        type=int,
        default=0,
        metavar="N",
        help="nginx (TLS) in front of N processes on PostgreSQL and Redis",
    )
    args = parser.parse_args()

    devices, spec = make_devices(args.devices)

    # Every simulated phone and client comes from 127.0.0.1: lift the
    # per-address caps, as for every benchmark here.
    extra = {
        "TESSERA_WS_PER_ADDRESS": str(args.devices + 100),
        "TESSERA_DEVICE_THROTTLE": "1000000/minute",
    }
    shape = (
        f"nginx (TLS) -> {args.production} processes, PostgreSQL + Redis"
        if args.production
        else "bin/run: one process, SQLite, in-memory channel layer"
    )
    print(
        f"Tessera login storm: {args.devices} phones connected, {shape}; "
        f"{os.cpu_count()} cores, load generator on the same machine, "
        f"{args.step_seconds:g} s per step",
        flush=True,
    )
    context = production(extra, args.production) if args.production else embedded(extra)
    with context as (site, env_manage, daphne_pids):
        key = json.loads(
            env_manage("shell", "-c", PUSH_PROVISION.format(path=spec))
            .strip()
            .splitlines()[-1]
        )["key"]
        # This machine's speed drifts within minutes: the validation rate is
        # the median of four short runs, two before the storm, two after.
        measure = validation_meter(site, env_manage)
        runs = [measure(4), measure(4)]
        print(f"  passcode validations (16 clients): {shown(runs)}", flush=True)
        steps = run_loop(storm(site, key, devices, args, daphne_pids))
        runs += [measure(4), measure(4)]
        validations = statistics.median(r["rps"] for r in runs)
        print(
            f"  passcode validations after the storm: {shown(runs[2:])}; "
            f"median of the four {validations:.0f}/s",
            flush=True,
        )
    Path(spec).unlink()
    good = [
        s for s in steps if not s["errors"] and s.get("total", (0, 10**9))[1] < 1000
    ]
    best = max(good, key=lambda s: s["logins_per_s"]) if good else None
    if best is None:
        print("no step kept p99 under 1 s with no error")
        return
    ratio = best["logins_per_s"] / validations
    print(
        f"highest rate with p99 < 1 s and no error: {best['logins_per_s']:.1f} "
        f"logins/s (offered {best['rate']:.0f}/s), {best['cpu_ms']:.1f} ms of "
        f"server CPU a login; = {ratio:.2f}x the validation rate "
        f"(target >= 0.33x): {'MET' if ratio >= 1 / 3 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
