"""Parsing what arrives from outside: JSON with a depth limit, client addresses.

Pure functions, no Django: the API parser, the device socket and the
throttles all call them, so every door refuses the same things.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MAX_JSON_DEPTH = 16

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_BRACKET = re.compile(r"[\[\]{}]")


class NotUnicode(ValueError):
    """A string in the document is not valid Unicode: a lone surrogate
    (``"\\ud800"``), which JSON's escapes allow but no UTF-8 text can hold."""


class JsonTooDeep(ValueError):
    """The document nests deeper than the limit (Python's parser would
    recurse once per level and, a few thousand levels down, crash)."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(text: str, max_depth: int = MAX_JSON_DEPTH):
    """``json.loads`` that refuses documents nested deeper than ``max_depth``.

    Raises ``JsonTooDeep`` (a ``ValueError``) before parsing, the parser's
    own ``ValueError`` for text that is not JSON, or ``NotUnicode`` for a
    string that is not valid Unicode. Bodies whose bracket count
    is within the limit cannot be too deep, so they skip the scan.
    """
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise JsonTooDeep(f"JSON may nest at most {max_depth} levels deep.")
    data = json.loads(text)
    # Only a surrogate escape can make one; pairs decode to one code point.
    if _SURROGATE_ESCAPE.search(text) and not _valid_unicode(data):
        raise NotUnicode("Strings must be valid Unicode (no lone surrogates).")
    return data


def _valid_unicode(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_valid_unicode(k) and _valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_valid_unicode(v) for v in value)
    return True


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]):
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: Iterable[str]
) -> str | None:
    """The address of the client: the peer, unless the peer is a trusted proxy.

    ``X-Forwarded-For`` is read only when the peer itself is one of the
    ``trusted`` proxies (addresses or networks); then the right-most address
    that is not a trusted proxy is the client, since everything left of it
    was written by the client and can say anything. With no trusted proxies
    (the default), the header is ignored: a random header per request must
    not give a random throttle key.
    """
    networks = _networks(tuple(trusted))
    peer = _ip(remote_addr or "")
    if peer is None:
        return None
    if not networks or not any(peer in net for net in networks):
        return str(peer)
    for hop in reversed((forwarded_for or "").split(",")):
        address = _ip(hop)
        if address is None:
            break  # junk: trust nothing further left
        if not any(address in net for net in networks):
            return str(address)
        peer = address
    return str(peer)


def fatigue_key(text: str) -> str:
    """What two application names must share to count as the same one.

    "Okta", "okta", "Okta" with a zero-width space and " OKTA " are one
    application to a person reading the phone, so they are one to the push
    fatigue limits too: NFKC (full-width and compatibility forms), case
    folded, invisible format characters removed, white space collapsed.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cf", "Cc"})
    return " ".join(text.split())
