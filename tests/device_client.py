"""A Tessera device written from docs/protocol.md alone (no server code imported).

Used by the tests and the benchmarks to prove the protocol is followable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEED_LENGTHS = {"SHA1": 20, "SHA256": 32, "SHA512": 64}
HASHES = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def parse_activation(text: str) -> tuple[bytes, bytes]:
    cleaned = "".join(c for c in text if c not in " -").upper()
    cleaned = cleaned.translate(str.maketrans("018", "OIB"))
    payload = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    assert payload[0] == 1 and hashlib.sha256(payload[:-2]).digest()[:2] == payload[-2:]
    return payload[1:11], payload[11:27]


def sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def hotp(seed: bytes, counter: int, digits: int, algorithm: str) -> str:
    mac = hmac.new(seed, struct.pack(">Q", counter), HASHES[algorithm]).digest()
    offset = mac[-1] & 0x0F
    value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(value).zfill(digits)


@dataclass
class Device:
    ecdh: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    serial: str = ""
    seed: bytes = b""
    info_key: bytes = b""
    otp: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    counter: int = 0
    activation_answer: dict = field(default_factory=dict)
    # PROTOCOL §7: the phone's platform authenticator (tests.soft_authenticator).
    authenticator: object | None = None

    def activate_body(self, activation: str, name: str = "Test phone") -> dict:
        return {
            "activation": activation,
            "ecdh_public_key": b64u(raw_public(self.ecdh)),
            "device_public_key": b64u(raw_public(self.key)),
            "device_name": name,
            "platform": "test",
        }

    def accept_activation(self, activation: str, answer: dict) -> None:
        enrollment_id, _code = parse_activation(activation)
        self.activation_answer = answer
        self.serial = answer["serial"]
        self.otp = answer["otp"]
        self.policy = answer["policy"]
        self.counter = self.otp.get("counter", 0)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64u(answer["server_ecdh_public_key"])
        )
        shared = self.ecdh.exchange(ec.ECDH(), peer)
        self.seed = HKDF(
            algorithm=hashes.SHA256(),
            length=SEED_LENGTHS[self.otp["algorithm"]],
            salt=enrollment_id,
            info=b"tessera/v1/seed|" + self.serial.encode(),
        ).derive(shared)
        self.info_key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=enrollment_id,
            info=b"tessera/v1/info|" + self.serial.encode(),
        ).derive(shared)

    def trusts(self, info: dict) -> bool:
        """Whether a token.info message is signed with this token's info key,
        checked as an independent client would (the text built here)."""
        fields = [info[k] for k in ("serial", "issuer", "account", "name")]
        fields += [info["state"], info["time"]]
        text = "tessera/v1/info|" + json.dumps(
            fields, separators=(",", ":"), ensure_ascii=False
        )
        mac = hmac.new(self.info_key, text.encode(), hashlib.sha256).digest()
        return info["serial"] == self.serial and hmac.compare_digest(
            b64u(mac), info["signature"]
        )

    def sign(self, text: str) -> str:
        der = self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def code(self, now: float | None = None, counter: int | None = None) -> str:
        digits, algorithm = self.otp["digits"], self.otp["algorithm"]
        if self.otp["type"] == "hotp":
            return hotp(
                self.seed,
                self.counter if counter is None else counter,
                digits,
                algorithm,
            )
        now = time.time() if now is None else now
        return hotp(self.seed, int(now) // self.otp["period"], digits, algorithm)

    def next_code(self) -> str:
        """HOTP: the next code, advancing the counter (the 'next passcode' button)."""
        code = self.code()
        self.counter += 1
        return code

    def confirm_body(self, server_pin: str = "", now: float | None = None) -> dict:
        otp = self.code(now=now) if self.otp["type"] == "totp" else self.next_code()
        text = f"tessera/v1/confirm|{self.serial}|{otp}|{server_pin}"
        body = {
            "serial": self.serial,
            "otp": otp,
            "server_pin": server_pin,
            "signature": self.sign(text),
        }
        if self.verifies_user:
            challenge = f"tessera/v1/uv-register|{self.serial}|{otp}"
            body["webauthn"] = self.authenticator.register(sha256(challenge))
        return body

    @property
    def verifies_user(self) -> bool:
        return (
            self.authenticator is not None
            and self.policy.get("user_verification") == "required"
        )

    # --- PROTOCOL §4–§5 ---------------------------------------------------

    def auth_frame(self, nonce: str, info: bool = False) -> dict:
        return {
            "type": "auth",
            "serial": self.serial,
            "signature": self.sign(f"tessera/v1/ws|{nonce}"),
            **({"info": True} if info else {}),
        }

    def answer_frame(
        self, challenge_id: str, decision: str, number="", otp: str | None = None
    ) -> dict:
        """A version 1 answer, or version 2 with ``otp`` (the PIN proof).

        Left out, ``otp`` follows the protocol: a token-PIN token proves its
        PIN (version 2) when approving or reporting fraud; ``otp=""`` forces
        version 1.
        """
        if otp is None:
            token_pin = self.policy.get("pin_mode") == "token"
            proves = decision in ("approve", "fraud")
            otp = self.code() if token_pin and proves else ""
        number_text = "" if number in ("", None) else str(number)
        signed = (
            f"tessera/v2/answer|{challenge_id}|{decision}|{number_text}|{otp}"
            if otp
            else f"tessera/v1/answer|{challenge_id}|{decision}|{number_text}"
        )
        frame = {
            "type": "answer",
            "id": challenge_id,
            "serial": self.serial,
            "decision": decision,
            "number": number,
            "signature": self.sign(signed),
        }
        if otp:
            frame["otp"] = otp
        if self.verifies_user and decision == "approve":
            frame["webauthn"] = self.authenticator.assert_(sha256(signed))
        return frame

    def webpush_body(self, endpoint: str, p256dh: str = "", auth: str = "") -> dict:
        """PROTOCOL §6: register (or, with an empty endpoint, remove) a
        Web Push subscription for this token."""
        text = f"tessera/v1/webpush|{self.serial}|{endpoint}|{p256dh}|{auth}"
        return {
            "serial": self.serial,
            "endpoint": endpoint,
            "p256dh": p256dh,
            "auth": auth,
            "signature": self.sign(text),
        }

    def poll_headers(self, now: float | None = None) -> dict:
        stamp = str(int(time.time() if now is None else now))
        return {
            "X-Tessera-Serial": self.serial,
            "X-Tessera-Time": stamp,
            "X-Tessera-Signature": self.sign(f"tessera/v1/poll|{self.serial}|{stamp}"),
        }
