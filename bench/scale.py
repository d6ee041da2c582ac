"""One process against two, in production's shape: bin/production (nginx with
TLS in front of N daphne processes) on PostgreSQL and Redis, all started
here. Prints /healthz and validation (valid HOTP codes) requests/s through
nginx, for 1 and then 2 processes, and the ratio (target: 2 >= 1.6x 1).

    .venv/bin/python bench/scale.py --concurrency 16 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.validate import PROVISION, enroll, run_scenario  # noqa: E402
from tests.production import Postgres, Production  # noqa: E402
from tests.servers import free_port, start_redis, stop  # noqa: E402


def measure(processes: int, args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="tessera-scale-"))
    postgres = Postgres(durable=True)  # production commits
    redis_port = free_port()
    redis = start_redis(redis_port)
    os.environ["TESSERA_DEVICE_THROTTLE"] = "100000/minute"
    site = None
    try:
        site = Production(
            workdir, postgres.url, f"redis://127.0.0.1:{redis_port}/0", processes
        )
        out = site.manage("shell", "-c", PROVISION.format(n=args.concurrency, mix=0))
        provisioned = json.loads(out.strip().splitlines()[-1])
        tokens = [
            (t["username"], enroll(site.base, t["activation"], "", site.ssl))
            for t in provisioned["plain"]
        ]
        key = provisioned["key"]

        def validate(i):
            username, device = tokens[i]
            body = json.dumps({"username": username, "passcode": device.next_code()})
            return "POST", "/api/v1/auth/validate", body.encode(), key

        def accepted(i, status, payload):
            return status == 200 and json.loads(payload)["result"] == "accept"

        results = {}
        for name, make, check in (
            ("healthz", lambda i: ("GET", "/healthz", b"", ""), lambda *a: a[1] == 200),
            ("validate", validate, accepted),
        ):
            results[name] = asyncio.run(
                run_scenario(
                    site.port, args.seconds, args.concurrency, make, check, site.ssl
                )
            )
        return results
    finally:
        if site is not None:
            site.stop()
        stop(redis)
        postgres.remove()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    print(
        f"Tessera behind nginx (TLS) on PostgreSQL + Redis, {args.concurrency} "
        f"clients, {args.seconds:g} s per scenario, {os.cpu_count()} cores, load "
        "generator on the same machine"
    )
    figures = {}
    for processes in (1, 2):
        figures[processes] = measure(processes, args)
        for name, r in figures[processes].items():
            print(
                f"  {processes} process(es), {name:9s} {r['rps']:7.1f} req/s  "
                f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"errors={r['errors']}",
                flush=True,
            )
    ratio = figures[2]["validate"]["rps"] / figures[1]["validate"]["rps"]
    print(
        f"validation, 2 processes / 1 process = {ratio:.2f}x (target >= 1.6x): "
        f"{'MET' if ratio >= 1.6 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
