"""RADIUS packets (RFC 2865) on pyrad: an Access-Request decoded strictly,
its Message-Authenticator checked (RFC 3579), and replies that carry one,
first, and echo Proxy-State. No Django here.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

MAX_PACKET = 4096  # RFC 2865 §3
USER_NAME, USER_PASSWORD, REPLY_MESSAGE, STATE = 1, 2, 18, 24
CALLING_STATION_ID = 31
MESSAGE_AUTHENTICATOR, PROXY_STATE = 80, 33
ONCE = (USER_NAME, USER_PASSWORD, STATE, MESSAGE_AUTHENTICATOR)


class Malformed(ValueError):
    """Not a well-formed Access-Request: dropped without a reply."""


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    return Dictionary(str(Path(__file__).with_name("dictionary")))


def header(data: bytes) -> tuple[int, int, bytes]:
    """(code, identifier, authenticator) of a datagram that could be a RADIUS
    packet; ``Malformed`` for anything shorter or longer than its length
    field allows."""
    if not 20 <= len(data) <= MAX_PACKET:
        raise Malformed("size")
    code, ident, length = struct.unpack("!BBH", data[:4])
    if not 20 <= length <= len(data):
        raise Malformed("length field")
    return code, ident, data[4:20]


@dataclass
class Request:
    packet: rp.AuthPacket
    username: str
    has_message_authenticator: bool

    def raw(self, code: int) -> bytes | None:
        values = OrderedDict.get(self.packet, code)
        return bytes(values[0]) if values else None

    def password(self) -> str | None:
        """The User-Password (PAP), decrypted with the shared secret; None
        when there is none or it is not valid text."""
        hidden = self.raw(USER_PASSWORD)
        if hidden is None or len(hidden) % 16 or not 16 <= len(hidden) <= 128:
            return None
        text = self.packet.PwDecrypt(hidden)
        # pyrad drops bytes that are not UTF-8; encrypting again must give
        # what was sent, or the password was not the text it claims.
        return text if self.packet.PwCrypt(text) == hidden else None

    def state(self) -> bytes | None:
        return self.raw(STATE)

    def calling_station_ip(self) -> str | None:
        """The end user's address when the NAS reports one as an address in
        Calling-Station-Id (VPNs do; switches send a MAC address)."""
        value = self.raw(CALLING_STATION_ID)
        try:
            return str(ipaddress.ip_address(value.decode("ascii").strip()))
        except (AttributeError, UnicodeDecodeError, ValueError):
            return None

    def message_authenticator_ok(self) -> bool:
        return self.packet.verify_message_authenticator()


def decode(data: bytes, secret: bytes) -> Request:
    """An Access-Request with one User-Name (UTF-8), at most one each of
    User-Password, State and Message-Authenticator; ``Malformed`` otherwise."""
    code, _, _ = header(data)
    if code != rp.AccessRequest:
        raise Malformed("not an Access-Request")
    try:
        packet = rp.AuthPacket(secret=secret, dict=dictionary(), packet=data)
    except (rp.PacketError, ValueError, KeyError, struct.error) as exc:
        raise Malformed("attributes") from exc
    for code in ONCE:
        if len(OrderedDict.get(packet, code, ())) > 1:
            raise Malformed(f"attribute {code} repeated")
    names = OrderedDict.get(packet, USER_NAME, ())
    if len(names) != 1:
        raise Malformed("User-Name")
    try:
        username = bytes(names[0]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed("User-Name is not UTF-8") from exc
    if not 1 <= len(username) <= 150 or any(ord(c) < 32 for c in username):
        raise Malformed("User-Name")
    return Request(packet, username, bool(packet.message_authenticator))


def reply(request: Request, code: int, message: str = "", state: bytes = b"") -> bytes:
    """The encoded reply: Message-Authenticator first (BlastRADIUS), the
    request's Proxy-State echoed, then Reply-Message and State."""
    answer = request.packet.CreateReply()  # signed, Proxy-State copied
    answer.code = code
    if message:
        answer.AddAttribute(
            "Reply-Message", message.encode()[:253].decode(errors="ignore")
        )
    if state:
        answer.AddAttribute("State", state)
    return answer.ReplyPacket()


ACCEPT, REJECT, CHALLENGE = rp.AccessAccept, rp.AccessReject, rp.AccessChallenge
