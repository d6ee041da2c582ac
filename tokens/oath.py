"""HOTP (RFC 4226) and TOTP (RFC 6238) codes for every policy hash.

django-otp's ``hotp`` is the implementation for SHA-1, which is what almost
every token uses. It hard-codes SHA-1, so SHA-256 and SHA-512 (RFC 6238's
other hashes) apply the same dynamic truncation to the longer HMAC here.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from django_otp.oath import hotp as _django_otp_hotp

_HASHES = {"SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def hotp(key: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """The HOTP value for ``counter``, zero-padded to ``digits``."""
    if algorithm == "SHA1":
        value = _django_otp_hotp(key, counter, digits)
    else:
        mac = hmac.new(key, struct.pack(">Q", counter), _HASHES[algorithm]).digest()
        offset = mac[-1] & 0x0F
        value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % (
            10**digits
        )
    return str(value).zfill(digits)


def time_step(now: float, period: int) -> int:
    return int(now) // period


def totp(
    key: bytes,
    now: float,
    *,
    period: int = 30,
    digits: int = 6,
    algorithm: str = "SHA1",
) -> str:
    return hotp(key, time_step(now, period), digits=digits, algorithm=algorithm)
