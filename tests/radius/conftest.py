"""A live Tessera (daphne) serving RADIUS on a loopback UDP port, NAS
clients made through the service, and a pyrad client that requires
Message-Authenticator in every reply."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyrad import packet as rp
from pyrad.client import Client

from radius.clients import radius_client_save
from radius.packets import dictionary
from tests.servers import free_port, free_udp_port, start_daphne, stop


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker, tmp_path_factory):
    port, udp = free_port(), free_udp_port()
    process = start_daphne(
        port,
        {
            "SITE_URL": f"http://localhost:{port}",
            "TESSERA_RADIUS_ADDRESS": f"127.0.0.1:{udp}",
            "TESSERA_RADIUS_CLIENT_CACHE_SECONDS": "0",
        },
        "radius-server.log",
    )
    yield SimpleNamespace(url=f"http://localhost:{port}", host="127.0.0.1", port=udp)
    stop(process)


@pytest.fixture
def nas(transactional_db):
    """Make the RADIUS client of the loopback: ``nas(mode)`` → its secret."""

    def make(mode="password+passcode", **options) -> str:
        _, secret = radius_client_save(
            name=options.pop("name", "VPN"),
            networks=options.pop("networks", "127.0.0.0/8"),
            mode=mode,
            actor="test",
            **options,
        )
        return secret

    return make


class Radius:
    """A NAS that speaks pyrad, requiring Message-Authenticator in replies."""

    def __init__(self, live, secret: str, timeout: float = 5, retries: int = 1):
        self.client = Client(
            server=live.host,
            authport=live.port,
            secret=secret.encode(),
            dict=dictionary(),
            timeout=timeout,
            retries=retries,
            enforce_ma=True,
        )

    def request(self, username: str, password: str, state: bytes = b"", **attrs):
        packet = self.client.CreateAuthPacket(code=rp.AccessRequest, User_Name=username)
        packet["User-Password"] = packet.PwCrypt(password)
        if state:
            packet["State"] = state
        for name, value in attrs.items():
            packet[name.replace("_", "-")] = value
        return packet

    def send(self, packet):
        return self.client.SendPacket(packet)

    def login(self, username: str, password: str, state: bytes = b""):
        return self.send(self.request(username, password, state))


def message(reply) -> str:
    return "".join(reply.get("Reply-Message", []))


def state(reply) -> bytes:
    return reply["State"][0]
