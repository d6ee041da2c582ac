"""Requests to a URL that someone outside chose (a Web Push endpoint).

Two rules close the ways around an allow-list of hosts:
- one strict parse: a URL is taken only when it is plain ASCII in the shape
  ``scheme://host[:port][/path]`` (no backslash, control character, space,
  ``%`` or user info in the authority) and Python's ``urlsplit`` and
  urllib3's parser (the one ``requests`` sends with) read the same host;
- the host is resolved when the request is sent (DNS can change after the
  URL was accepted), every address must be public (not private, loopback,
  link-local, reserved, multicast or unspecified) unless the deployment
  allows that host explicitly, and the connection goes to the address that
  was checked, not to a second look-up; TLS still checks the certificate
  against the host's name.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

_URL = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[!-\[\]-~]*)?"  # printable ASCII without the backslash
)


class Target(NamedTuple):
    scheme: str
    host: str
    port: int


class Refused(ValueError):
    """The URL or the addresses its host resolves to are not allowed."""


def parse_strict(url: str) -> Target | None:
    """The URL's scheme, host and port, or None where it is not plain or
    the two parsers disagree on the host."""
    match = _URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        return None
    host = match["host"].lower()
    if ".." in host:
        return None
    try:
        ours, theirs = urlsplit(url), parse_url(url)
    except ValueError:
        return None
    if (ours.hostname or "") != host or (theirs.host or "").lower() != host:
        return None
    default = 443 if match["scheme"] == "https" else 80
    port = int(match["port"]) if match["port"] else default
    if not 0 < port < 65536:
        return None
    return Target(match["scheme"], host, port)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_checked(target: Target, *, allow_private: bool = False) -> str:
    """One address of ``target.host`` to connect to; ``Refused`` when the
    name does not resolve, or any of its addresses is not public (unless
    ``allow_private``): one bad address is enough to refuse."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{target.host} does not resolve") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Refused(f"{target.host} does not resolve")
    if not allow_private and not all(is_public(a) for a in addresses):
        raise Refused(f"{target.host} resolves to an address that is not public")
    return addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Sends to ``address`` whatever ``host`` would resolve to now; the Host
    header, SNI and the certificate check still use ``host``."""

    def __init__(self, target: Target, address: str):
        self._target, self._address = target, address
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        host = self._target.host
        kwargs.update(server_hostname=host, assert_hostname=host)
        super().init_poolmanager(connections, maxsize, block, **kwargs)

    def send(self, request, **kwargs):
        if parse_strict(request.url) != self._target:
            raise requests.ConnectionError("not the checked destination")
        parts = urlsplit(request.url)
        ip = f"[{self._address}]" if ":" in self._address else self._address
        request.headers["Host"] = parts.netloc
        request.url = parts._replace(netloc=f"{ip}:{self._target.port}").geturl()
        return super().send(request, **kwargs)


def pinned_session(url: str, *, allowed_private: list[str] = ()) -> requests.Session:
    """A session that can send only to ``url``'s host, at an address checked
    now; follows no redirect. Raises ``Refused``."""
    target = parse_strict(url)
    if target is None:
        raise Refused("not a plain URL")
    address = resolve_checked(target, allow_private=target.host in allowed_private)
    session = requests.Session()
    session.max_redirects = 0  # the destination answers; it does not send us on
    session.trust_env = False  # no proxy from the environment either
    adapter = _PinnedAdapter(target, address)
    session.adapters.clear()
    session.mount(f"{target.scheme}://", adapter)
    return session
