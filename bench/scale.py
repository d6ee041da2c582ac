"""One process against two, in production's shape: bin/production (nginx with
TLS in front of N daphne processes) on PostgreSQL (durable commits) and
Redis, all started here, beside the embedded default (bin/run: one process
on SQLite) in the same run. Prints /healthz and validation (valid HOTP codes)
requests/s and the server's CPU per validation (every process of the shape:
nginx, daphne, PostgreSQL, Redis; measured as the machine's busy time less
the load generator's), and the targets: 2 processes >= 1.6x 1; the production
shape >= 1.3x the SQLite process's rate at <= 1.3x its CPU per validation.

The three shapes run side by side and are measured in turn, round after
round; the figures are each one's median.

    .venv/bin/python bench/scale.py --concurrency 16 --seconds 8 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.server import (  # noqa: E402
    cpu_by_program,
    manage,
    programs_cpu,
    running_server,
)
from bench.validate import measured_scenario, validation_requests  # noqa: E402
from tests.production import Postgres, Production  # noqa: E402
from tests.servers import free_port, start_redis, stop  # noqa: E402


def scenarios(shape, args) -> dict:
    port, ssl, validate, accepted = shape
    results = {}
    for name, make, check in (
        ("healthz", lambda i: ("GET", "/healthz", b"", ""), lambda *a: a[1] == 200),
        ("validate", validate, accepted),
    ):
        before = programs_cpu()
        result = measured_scenario(
            port, args.seconds, args.concurrency, make, check, ssl
        )
        done = max(result["rps"] * args.seconds, 1)
        for program, seconds in cpu_by_program(before, programs_cpu()).items():
            result[f"ms {program}"] = seconds * 1000 / done
        results[name] = result
    return results


@contextmanager
def embedded(args):
    """bin/run: one process, SQLite."""
    with running_server() as (base, env):
        make, accepted = validation_requests(
            base, lambda *a: manage(env, *a), args.concurrency
        )
        yield int(base.rsplit(":", 1)[1]), None, make, accepted


@contextmanager
def production(processes: int, args):
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
        validate, accepted = validation_requests(
            site.base, site.manage, args.concurrency, site.ssl
        )
        yield site.port, site.ssl, validate, accepted
    finally:
        if site is not None:
            site.stop()
        stop(redis)
        postgres.remove()


def median_of(rounds: list[dict]) -> dict:
    """Each scenario's figures: the median over the rounds."""
    return {
        name: {
            key: statistics.median(r[name].get(key, 0.0) for r in rounds)
            for key in rounds[0][name]
        }
        for name in rounds[0]
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"Tessera behind nginx (TLS) on PostgreSQL + Redis, {args.concurrency} "
        f"clients, {args.seconds:g} s per scenario, {os.cpu_count()} cores, load "
        f"generator on the same machine; median of {args.rounds} interleaved rounds"
    )

    def show(label, results):
        for name, r in results.items():
            print(
                f"  {label:26s} {name:9s} {r['rps']:7.1f} req/s  "
                f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                f"server CPU {r['cpu_ms']:5.2f} ms/req  errors={r['errors']:g}",
                flush=True,
            )

    def where(label, r):
        """Each program's CPU a validation (ms), the generator's included."""
        parts = sorted(
            ((k[3:], v) for k, v in r.items() if k.startswith("ms ") and v >= 0.005),
            key=lambda kv: -kv[1],
        )
        print(f"  {label:26s} " + ", ".join(f"{k} {v:.2f}" for k, v in parts))

    labels = {
        0: "bin/run, SQLite",
        1: "production, 1 process",
        2: "production, 2 processes",
    }
    with ExitStack() as stack:
        # All three running at once, measured in turn: the machine's drift
        # (±15 % between runs here) falls on each shape alike.
        shapes = {0: stack.enter_context(embedded(args))}
        for processes in (1, 2):
            shapes[processes] = stack.enter_context(production(processes, args))
        rounds = {n: [] for n in shapes}
        for round_ in range(args.rounds):
            for n, shape in shapes.items():
                rounds[n].append(scenarios(shape, args))
                show(f"round {round_ + 1}: {labels[n]}", rounds[n][-1])
    figures = {n: median_of(r) for n, r in rounds.items()}
    print("medians:")
    for n, results in figures.items():
        show(labels[n], results)
    print("where a validation's CPU goes (ms, medians):")
    for n, results in figures.items():
        where(labels[n], results["validate"])
    sqlite = figures[0]["validate"]
    production_ = figures[2]["validate"]
    verdict = {True: "MET", False: "NOT MET"}
    ratio = production_["rps"] / figures[1]["validate"]["rps"]
    print(
        f"2 processes / 1 process = {ratio:.2f}x (target >= 1.6x): {verdict[ratio >= 1.6]}"
    )
    one, two = figures[1]["validate"], production_
    # One process is bound by its one core; two share the machine's cores
    # with everything else a validation costs (the generator's CPU too).
    whole = sum(v for k, v in two.items() if k.startswith("ms "))
    bound = os.cpu_count() * 1000 / whole
    print(
        f"  one process's Tessera: {one['ms Tessera']:.2f} ms a validation, "
        f"{one['rps'] * one['ms Tessera'] / 10:.0f} % of a core; two processes: "
        f"{whole:.2f} ms of the machine a validation, so at most {bound:.0f}/s "
        f"on {os.cpu_count()} cores = {bound / one['rps']:.2f}x the one process"
    )
    rate = production_["rps"] / sqlite["rps"]
    print(
        f"production shape / one SQLite process: {rate:.2f}x the validations/s "
        f"(target >= 1.3x): {verdict[rate >= 1.3]}"
    )
    cpu = production_["cpu_ms"] / sqlite["cpu_ms"]
    print(
        f"production shape / one SQLite process: {cpu:.2f}x the server CPU a "
        f"validation (target <= 1.3x): {verdict[cpu <= 1.3]}"
    )


if __name__ == "__main__":
    main()
