"""What a login proved, in RFC 8176's words (``amr``), kept in the web
session by the portal and read by the doors that vouch for the login to
others (OpenID Connect's ID tokens)."""

from __future__ import annotations

import time

from tokens.models import Passkey, Policy, Token
from tokens.services.webauthn.uv import uv_required

SESSION_KEY = "tessera_auth"  # {"at": unix time of the second factor, "amr": [...]}
ACR_MFA = "urn:tessera:mfa"  # two factors, the second one Tessera's


def login_amr(*, method: str, device, password: bool = True) -> list[str]:
    """The methods of a login whose second factor was ``device`` used by
    ``method`` (``passcode``, ``push``, ``passkey``, ``backup``): ``pwd`` for
    the password, ``otp`` a passcode, ``swk`` a push approved with the device
    key (``pin`` when the token PIN was proven, ``user`` when the server
    checked a fingerprint), ``hwk`` with ``user`` a passkey, and ``mfa``
    whenever two factors were used."""
    amr = ["pwd"] if password else []
    if method in ("passcode", "backup"):
        amr.append("otp")
    elif method == "push" and isinstance(device, Token):
        amr.append("swk")
        if device.push_proof or device.policy.pin_mode == Policy.PinMode.TOKEN:
            amr.append("pin")
        if uv_required(device):
            amr.append("user")
    elif method == "passkey" and isinstance(device, Passkey):
        amr.append("hwk")
        if device.user_verified:
            amr.append("user")
    if len(amr) >= 2:
        amr.append("mfa")
    return amr


def remember_login(session, amr: list[str]) -> None:
    session[SESSION_KEY] = {"at": int(time.time()), "amr": amr}


def session_login(session) -> dict | None:
    found = session.get(SESSION_KEY)
    return found if isinstance(found, dict) and found.get("amr") else None
