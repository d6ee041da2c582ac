"""Start Tessera for a benchmark the way the README does (bin/run), in a scratch data dir."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(extra_env: dict | None = None, host: str = "127.0.0.1"):
    """Yields (base_url, env); env also drives manage.py against the same data."""
    port = free_port()
    base = f"http://{host}:{port}"
    env = {
        **os.environ,
        "TESSERA_DATA_DIR": tempfile.mkdtemp(prefix="tessera-bench-"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SITE_URL": base,
        "TESSERA_DEVICE_THROTTLE": "100000/minute",
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    log = open(Path(env["TESSERA_DATA_DIR"]) / "server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(ROOT / "bin/run")],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(900):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("the server exited during start-up") from None
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start")
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (bin/run execs daphne)."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True
    )
    return int(out.stdout.split("pid=")[1].split(",")[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def context_switches(pid: int) -> int:
    """Context switches of all the process's threads so far (a thread that
    hands the GIL to another switches twice)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in text.splitlines():
            if "ctxt_switches:" in line:  # voluntary and nonvoluntary
                total += int(line.split()[1])
    return total


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy so far (every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds this process (the load generator) has used so far."""
    times = os.times()
    return times.user + times.system


def server_cpu_during(run):
    """``run()``'s result and the CPU the rest of the machine (the server:
    every process of it, database included) spent meanwhile, in seconds."""
    busy, own = busy_seconds(), own_seconds()
    result = run()
    return result, (busy_seconds() - busy) - (own_seconds() - own)


PROGRAMS = (  # what a command line holds -> the program it is counted as
    ("config.serve", "Tessera"),  # daphne, as bin/run and bin/production start it
    ("daphne", "Tessera"),
    ("postgres", "PostgreSQL"),
    ("nginx", "nginx"),
    ("redis", "Redis"),
)


def programs_cpu() -> dict[int, tuple[str, float]]:
    """Each process's program (``PROGRAMS``; this one is "generator", any
    other "other") and the CPU seconds it has used so far."""
    seen = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            used = sum(cpu_times(pid))
        except OSError:  # gone meanwhile
            continue
        name = next((n for key, n in PROGRAMS if key in command), "other")
        seen[pid] = ("generator" if pid == os.getpid() else name, used)
    return seen


def cpu_by_program(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds each program used between two ``programs_cpu()``."""
    spent: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        spent[name] = spent.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return spent
