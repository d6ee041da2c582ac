"""A push service on the loopback, for tests: it keeps what it receives and
answers as told (201, 410, or only when released), and a browser-side
subscription whose keys decrypt what the server sent (RFC 8291) and whose
VAPID JWT verifies with the server's published key (RFC 8292)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.device_client import b64u, unb64u


@dataclass
class Subscription:
    """What a browser's pushManager.subscribe() makes: a key pair and a secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64u(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962,
                serialization.PublicFormat.UncompressedPoint,
            )
        )

    @property
    def auth(self) -> str:
        return b64u(self.auth_secret)

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body,
            private_key=self.key,
            auth_secret=self.auth_secret,
            version="aes128gcm",
        )
        return json.loads(plain)


def verify_vapid(authorization: str, public_key_b64u: str) -> dict:
    """Check ``vapid t=<JWT>, k=<key>`` against the server's published key;
    return the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key_b64u
    head, claims, signature = parts["t"].split(".")
    assert json.loads(unb64u(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64u(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), unb64u(public_key_b64u)
    )
    public.verify(
        encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        ),
        f"{head}.{claims}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    return json.loads(unb64u(claims))


class Receiver:
    """``with Receiver() as push_service:`` — ``push_service.url(name)`` is an
    endpoint; ``received`` holds (path, headers, body) in arrival order."""

    def __init__(self, status: int = 201, hold: bool = False):
        self.status = status
        self.hold = threading.Event() if hold else None
        self.received: list[tuple[str, dict, bytes]] = []
        self.arrived = threading.Condition()
        self.answered: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.arrived:
                    outer.received.append(
                        (
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    outer.arrived.notify_all()
                if outer.hold is not None:
                    outer.hold.wait(timeout=10)
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting
                outer.answered.append(self.path)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def url(self, name: str = "sub") -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def wait_for(self, count: int, timeout: float = 15) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, (
                    f"only {len(self.received)} of {count} messages arrived"
                )
                self.arrived.wait(left)
        return self.received

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
