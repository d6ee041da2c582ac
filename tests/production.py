"""Real services for the production tests: a throwaway PostgreSQL cluster, a
self-signed certificate, and bin/production (nginx + N daphne processes)."""

from __future__ import annotations

import base64
import datetime
import os
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import ARTIFACTS, ROOT, free_port, free_udp_port, stop


def postgres_installed() -> bool:
    return bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb")))


class Postgres:
    """A throwaway cluster made by ``bin/pg-cluster`` (the one launcher the
    test command, these tests and the benchmarks share), in its own
    directory; ``durable`` keeps PostgreSQL's fsync'd commits."""

    def __init__(self, durable: bool = False):
        # Its own directory under /tmp: pytest's are private to root, and the
        # server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="tessera-pg-"))
        self.env = {
            **os.environ,
            "TESSERA_PG_STATE": str(self.dir),
            "TESSERA_PG_DURABLE": "1" if durable else "",
        }
        self.url = self._cluster("start")
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def _cluster(self, command: str) -> str:
        done = subprocess.run(
            [str(ROOT / "bin/pg-cluster"), command],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def start(self) -> None:
        self._cluster("start")  # the same cluster again, on its port

    def stop(self) -> None:
        self._cluster("pause")  # an outage: the data stays

    def remove(self) -> None:
        self._cluster("stop")


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (process pN of
    bin/production listens on the first + N - 1)."""
    for _ in range(100):
        first = free_port()
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no run of free ports")


def self_signed(workdir: Path, host: str = "localhost") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Production:
    """bin/production as an operator starts it: nginx with TLS on ``port``,
    ``processes`` daphne processes on PostgreSQL and Redis."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        redis_url: str,
        processes=2,
        watch=None,
    ):
        cert, key = self_signed(workdir)
        self.port = free_port()
        self.radius_port = free_udp_port()
        self.base = f"https://localhost:{self.port}"
        self.ssl = ssl.create_default_context(cafile=str(cert))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SITE_URL": self.base,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TESSERA_PROCESSES": str(processes),
            "TESSERA_LISTEN": str(self.port),
            "TESSERA_BACKEND_PORT": str(free_port_run(processes)),
            "TESSERA_TLS_CERT": str(cert),
            "TESSERA_TLS_KEY": str(key),
            "TESSERA_DATA_DIR": str(workdir / "data"),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "TESSERA_SEED_KEYS": "k1:"
            + base64.b64encode(secrets.token_bytes(32)).decode(),
            "TESSERA_PIN_KEY": secrets.token_urlsafe(32),
            "TESSERA_WEBPUSH": "off",
            "TESSERA_RADIUS_ADDRESS": f"127.0.0.1:{self.radius_port}",
        }
        self.env.pop("TESSERA_TEST_SERVER_DB", None)
        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / "production.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bin" / "production")],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if watch is not None:  # e.g. what a client meets while it starts
            watch(self)
        try:
            self.wait_ready(processes)
        except RuntimeError:
            self.stop()  # leave no nginx or daphne behind
            raise

    def open(self, path: str, timeout: float = 5):
        return urllib.request.urlopen(
            self.base + path, timeout=timeout, context=self.ssl
        )

    def wait_ready(self, processes: int) -> None:
        seen: set[str] = set()
        deadline = time.monotonic() + 90
        while len(seen) < processes:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "bin/production exited; see test-artifacts/production.log"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("bin/production did not start")
            try:
                with self.open("/healthz", timeout=2) as response:
                    seen.add(response.headers["X-Tessera-Process"])
            except OSError:
                time.sleep(0.2)

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def stop(self) -> None:
        stop(self.process)
        self.log.close()
