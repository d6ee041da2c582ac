"""Tessera's cryptography as pure functions (no Django imports).

Everything here follows ``docs/protocol.md`` version 1: the activation string, the
ECDH + HKDF seed derivation, device signatures (raw ``r||s`` as WebCrypto
produces them) and the at-rest encryption of seeds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PROTOCOL_VERSION = 1
ENROLLMENT_ID_BYTES = 10
CODE_BYTES = 16
CHECK_BYTES = 2
PAYLOAD_BYTES = 1 + ENROLLMENT_ID_BYTES + CODE_BYTES + CHECK_BYTES  # 29
ACTIVATION_CHARS = 47  # base32 of 29 bytes, unpadded

SEED_LENGTHS = {"SHA1": 20, "SHA256": 32, "SHA512": 64}


# --- encodings -------------------------------------------------------------


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise ``ValueError`` on anything else."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    if any(c in text for c in "=+/ \n\r\t"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


def b32_encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


# --- the activation string (PROTOCOL §1) ----------------------------------


class ActivationStringError(ValueError):
    """A pasted or scanned activation string that cannot be used.

    ``code`` is machine-readable; ``str(exc)`` is a sentence for a person.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Activation:
    enrollment_id: bytes
    code: bytes


def activation_encode(enrollment_id: bytes, code: bytes) -> str:
    """Build the grouped activation string for an enrollment id and code."""
    if len(enrollment_id) != ENROLLMENT_ID_BYTES or len(code) != CODE_BYTES:
        raise ValueError("wrong enrollment id or code length")
    body = bytes([PROTOCOL_VERSION]) + enrollment_id + code
    payload = body + hashlib.sha256(body).digest()[:CHECK_BYTES]
    text = b32_encode(payload)
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


_B32_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_CONFUSABLES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def activation_parse(text: str) -> Activation:
    """Parse an activation string as a person may have typed it.

    Spaces, dashes and case are ignored; 0, 1 and 8 read as O, I and B.
    """
    if not isinstance(text, str):
        raise ActivationStringError(
            "invalid_activation", "An activation string is text."
        )
    cleaned = "".join(c for c in text if c not in " -\t\r\n").upper()
    cleaned = cleaned.translate(_CONFUSABLES)
    if not cleaned or any(c not in _B32_ALPHABET for c in cleaned):
        raise ActivationStringError(
            "invalid_activation",
            "This activation string has characters that do not belong in one.",
        )
    if len(cleaned) != ACTIVATION_CHARS:
        raise ActivationStringError(
            "invalid_activation",
            f"This activation string has {len(cleaned)} characters; "
            f"it should have {ACTIVATION_CHARS}. Check that you copied all of it.",
        )
    payload = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    if b32_encode(payload) != cleaned:  # the last character's unused bits
        raise ActivationStringError(
            "invalid_activation", "This activation string has a typo."
        )
    if payload[0] != PROTOCOL_VERSION:
        raise ActivationStringError(
            "invalid_activation",
            "This activation string is for a newer version of the authenticator.",
        )
    body, check = payload[:-CHECK_BYTES], payload[-CHECK_BYTES:]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:CHECK_BYTES], check):
        raise ActivationStringError(
            "invalid_activation", "This activation string has a typo."
        )
    return Activation(
        enrollment_id=body[1 : 1 + ENROLLMENT_ID_BYTES],
        code=body[1 + ENROLLMENT_ID_BYTES :],
    )


def new_activation() -> tuple[Activation, str]:
    activation = Activation(
        enrollment_id=secrets.token_bytes(ENROLLMENT_ID_BYTES),
        code=secrets.token_bytes(CODE_BYTES),
    )
    return activation, activation_encode(activation.enrollment_id, activation.code)


# --- ECDH, HKDF and signatures (PROTOCOL §2–§5) ---------------------------


def load_p256_public(raw: bytes) -> ec.EllipticCurvePublicKey:
    """Load a 65-byte uncompressed P-256 point; ``ValueError`` otherwise."""
    if len(raw) != 65 or raw[0] != 0x04:
        raise ValueError("expected a 65-byte uncompressed P-256 point")
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def export_p256_public(key: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def derive_seed(
    *,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
    enrollment_id: bytes,
    serial: str,
    algorithm: str,
) -> bytes:
    """seed = HKDF-SHA256(ECDH(Z), salt=enrollment_id, info=tessera/v1/seed|serial)."""
    return derive_keys(
        private_key=private_key,
        peer_public=peer_public,
        enrollment_id=enrollment_id,
        serial=serial,
        algorithm=algorithm,
    )[0]


def derive_keys(
    *,
    private_key: ec.EllipticCurvePrivateKey,
    peer_public: ec.EllipticCurvePublicKey,
    enrollment_id: bytes,
    serial: str,
    algorithm: str,
) -> tuple[bytes, bytes]:
    """The seed, and the token-info key: HKDF-SHA256 of the same ECDH secret
    with info ``tessera/v1/info|serial`` (32 bytes), with which the server
    signs what it tells the device about its token."""
    shared = private_key.exchange(ec.ECDH(), peer_public)

    def derive(info: bytes, length: int) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=length, salt=enrollment_id, info=info
        ).derive(shared)

    return (
        derive(b"tessera/v1/seed|" + serial.encode(), SEED_LENGTHS[algorithm]),
        derive(b"tessera/v1/info|" + serial.encode(), 32),
    )


def verify_signature(public_raw: bytes, signature: bytes, message: str) -> bool:
    """Verify a WebCrypto ECDSA P-256/SHA-256 signature (64-byte ``r||s``)."""
    if len(signature) != 64:
        return False
    try:
        key = load_p256_public(public_raw)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, message.encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_signature_text(public_raw: bytes, signature, message: str) -> bool:
    """``verify_signature`` for a signature as it travels: b64u text. Anything
    else (not text, not base64url) simply does not verify."""
    if not isinstance(signature, str):
        return False
    try:
        raw = b64u_decode(signature)
    except ValueError:
        return False
    return verify_signature(public_raw, raw, message)


# --- secrets at rest -------------------------------------------------------


def seed_encrypt(seed: bytes, *, serial: str, key_id: str, key: bytes) -> str:
    """AES-256-GCM under ``key``, the serial bound as associated data.

    The result names the key id, so keys can be rotated: old ciphertexts stay
    readable while new ones use the current key.
    """
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, seed, b"tessera/seed|" + serial.encode())
    return f"v1:{key_id}:{b64u_encode(nonce + sealed)}"


def seed_key_id(blob: str) -> str:
    return blob.split(":", 2)[1]


def seed_decrypt(blob: str, *, serial: str, keys: dict[str, bytes]) -> bytes:
    version, key_id, body = blob.split(":", 2)
    if version != "v1" or key_id not in keys:
        raise ValueError("unknown seed encryption version or key")
    raw = b64u_decode(body)
    try:
        return AESGCM(keys[key_id]).decrypt(
            raw[:12], raw[12:], b"tessera/seed|" + serial.encode()
        )
    except InvalidTag as exc:
        raise ValueError("seed ciphertext does not authenticate") from exc


def pin_digest(pin: str, *, serial: str, key: bytes) -> str:
    """Keyed digest of a server PIN, bound to its token.

    HMAC with a server key: a stolen database alone does not let anyone test
    PINs, and checking one costs microseconds, so validation stays fast.
    """
    message = b"tessera/pin|" + serial.encode() + b"|" + pin.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
