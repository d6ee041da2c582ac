"""Page latency while strangers post wrong passwords for fresh usernames.

Starts Tessera as the README does (bin/run: one process, SQLite, real
PBKDF2), then runs N "stranger" clients that each, in a loop, take the login
form, type a new username and post a wrong password (no per-name throttle
applies to a new name). Meanwhile one reader fetches ``GET /login/`` once
every 100 ms. Prints the reader's p50/p99 with and without the flood, and
how many password posts were answered, and how many were refused before the
hash. The strangers come from one loopback address, so the per-address limit
refuses most of them; a second run lifts that limit
(``TESSERA_LOGIN_IP_LIMIT``), as a botnet of many addresses would, to show
the page latency under the hashing the global limit still allows.

Usage: .venv/bin/python -m bench.hashing [--clients 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from bench.server import running_server
from bench.stats import percentile

_names = itertools.count()


def _token(page: str) -> str:
    return page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]


def stranger(base: str, stop: float, outcomes: dict, lock: threading.Lock) -> None:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar())
    )
    while time.monotonic() < stop:
        name = f"stranger{next(_names)}"
        token = _token(opener.open(base + "/login/").read().decode())
        form = {"csrfmiddlewaretoken": token, "username": name}
        opener.open(base + "/login/", urllib.parse.urlencode(form).encode()).read()
        token = _token(opener.open(base + "/login/continue/").read().decode())
        form = {"csrfmiddlewaretoken": token, "password": "wrong"}
        request = urllib.request.Request(
            base + "/login/continue/",
            urllib.parse.urlencode(form).encode(),
            headers={"Referer": base + "/login/continue/"},
        )
        page = opener.open(request).read().decode()
        kind = "refused" if "Too many attempts" in page else "hashed"
        with lock:
            outcomes[kind] += 1


def read_pages(base: str, stop: float) -> list[float]:
    times = []
    while time.monotonic() < stop:
        start = time.perf_counter()
        urllib.request.urlopen(base + "/login/", timeout=60).read()
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.1)
    return times


def run(base: str, clients: int, seconds: float) -> tuple[list[float], dict]:
    outcomes, lock = {"hashed": 0, "refused": 0}, threading.Lock()
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=stranger, args=(base, stop, outcomes, lock))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    times = read_pages(base, stop)
    for thread in threads:
        thread.join()
    return times, outcomes


def report(label: str, times: list[float], outcomes: dict | None = None) -> None:
    line = (
        f"{label:34s} GET /login/ p50 {percentile(times, 0.5):7.1f} ms"
        f"  p99 {percentile(times, 0.99):7.1f} ms  ({len(times)} reads)"
    )
    if outcomes is not None:
        line += f"; password posts: {outcomes['hashed']} checked, "
        line += f"{outcomes['refused']} refused before the hash"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with running_server() as (base, _):
        report("quiet", read_pages(base, time.monotonic() + args.seconds))
        times, outcomes = run(base, args.clients, args.seconds)
        report(f"{args.clients} strangers, one address", times, outcomes)
    with running_server({"TESSERA_LOGIN_IP_LIMIT": "100000"}) as (base, _):
        times, outcomes = run(base, args.clients, args.seconds)
        report(f"{args.clients} strangers, no address limit", times, outcomes)


if __name__ == "__main__":
    main()
