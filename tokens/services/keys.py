"""Access to the server's keys, read from settings at call time."""

from __future__ import annotations

from django.conf import settings

from tokens import crypto


def seed_keys() -> dict[str, bytes]:
    return settings.TESSERA_SEED_KEYS


def seal_seed(seed: bytes, *, serial: str) -> str:
    keys = seed_keys()
    key_id = next(iter(keys))  # the first key is the current one
    return crypto.seed_encrypt(seed, serial=serial, key_id=key_id, key=keys[key_id])


def open_seed(blob: str, *, serial: str) -> bytes:
    return crypto.seed_decrypt(blob, serial=serial, keys=seed_keys())


def server_pin_digest(pin: str, *, serial: str) -> str:
    return crypto.pin_digest(pin, serial=serial, key=settings.TESSERA_PIN_KEY)
