"""What the server tells a device about its token (a PROTOCOL §5 server
message, ``token.info``): issuer, account, name and state, signed with the
token's info key so the app trusts only its own server about its own token.

The app shows these names, and stops showing codes for a token that was
suspended, revoked or removed. Sent after a socket authenticates (also for a
token that is no longer active, once the device proved its key), with every
signed poll, and live when an administrator or the user changes the token.

Signed text: ``'tessera/v1/info|' + JSON([serial, issuer, account, name,
state, time])`` (compact separators, non-ASCII as is); signature =
b64u(HMAC-SHA256(info key, text)); the info key is HKDF-SHA256 of the
activation's ECDH secret with info ``tessera/v1/info|<serial>`` (32 bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from django.conf import settings

from tokens import crypto
from tokens.events import device_group, group_send_after_commit
from tokens.models import LOCK_PASSCODES, Token
from tokens.services import keys
from tokens.services.keys import info_key_label


def token_names(token: Token) -> dict:
    """How the app labels a token: the deployment, the account, the name."""
    return {
        "issuer": settings.TESSERA_ISSUER,
        "account": token.user.get_username(),
        "name": token.name,
    }


def shown_state(token: Token) -> str:
    """The state the app is told: ``passcodes_locked`` for a token locked only
    against passcode guessing (its login requests still reach the app)."""
    if token.state == Token.State.LOCKED and token.lock_reason == LOCK_PASSCODES:
        return "passcodes_locked"
    return token.state


def signed_text(body: dict) -> str:
    fields = [body[k] for k in ("serial", "issuer", "account", "name", "state", "time")]
    return "tessera/v1/info|" + json.dumps(
        fields, separators=(",", ":"), ensure_ascii=False
    )


def token_info(
    token: Token, now: float | None = None, state: str | None = None
) -> dict | None:
    """The signed ``token.info`` message, or None for a token activated
    before info keys existed (its app keeps what it knows)."""
    if not token.info_key_sealed:
        return None
    key = keys.open_seed(token.info_key_sealed, serial=info_key_label(token.serial))
    body = {
        "type": "token.info",
        "serial": token.serial,
        **token_names(token),
        "state": state or shown_state(token),
        "time": int(time.time() if now is None else now),
    }
    digest = hmac.new(key, signed_text(body).encode(), hashlib.sha256).digest()
    body["signature"] = crypto.b64u_encode(digest)
    return body


def announce_token_info(token: Token) -> None:
    """Tell the token's connected device, once the change commits."""
    token = Token.objects.select_related("user").get(pk=token.pk)
    info = token_info(token)
    if info is not None:
        group_send_after_commit(
            device_group(token.serial), {"type": "token.info", "info": info}
        )


def announce_unbound(token: Token) -> None:
    """The token is being bound to another device: tell the old one, signed
    with the old binding's key, that the token no longer works there, and
    make its sockets stop receiving the token's requests (after commit)."""
    if not token.device_public_key or not token.info_key_sealed:
        return
    info = token_info(token, state=Token.State.REVOKED)
    group_send_after_commit(
        device_group(token.serial), {"type": "token.info", "info": info, "unbind": True}
    )
