"""The device socket's keep-alive: a socket that says nothing is pinged every
TESSERA_WS_PING_SECONDS (bin/run and bin/production pass it to daphne; 60 s
by default, not daphne's 20 s, which cost 18 % of a process's CPU with 5,000
phones connected)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.servers import free_port, stop

ROOT = Path(__file__).resolve().parent.parent.parent


def frames(sock: socket.socket, deadline: float):
    """Yield (opcode, payload) of the server's (unmasked) frames."""
    buffer = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return
        if not chunk:
            return
        buffer += chunk
        while len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            if len(buffer) < start + length:
                break
            yield buffer[0] & 0x0F, buffer[start : start + length]
            buffer = buffer[start + length :]


def test_bin_run_pings_a_quiet_socket_at_the_configured_interval(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "TESSERA_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "TESSERA_WS_PING_SECONDS": "1",
    }
    run = subprocess.Popen(
        [str(ROOT / "bin" / "run")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        while "Tessera on" not in run.stdout.readline():
            assert run.poll() is None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws/device/ HTTP/1.1\r\nHost: localhost:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://localhost:{port}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        began = time.monotonic()
        seen = [op for op, _ in frames(sock, began + 8) if op == 0x9 or op == 0x1]
        # The hello (text), then pings while the socket stays quiet.
        assert seen[0] == 0x1 and 0x9 in seen, seen
        sock.close()
    finally:
        stop(run)
