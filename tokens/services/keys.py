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


def info_key_label(serial: str) -> str:
    """The sealing context of a token's info key (a seed's is its serial)."""
    return f"{serial}/info"


def seeds_reseal() -> int:
    """Re-seal every seed and info key not sealed with the current key
    (rotation's last step); returns how many. Each row is rewritten only if
    unchanged since it was read, so a concurrent re-activation is never
    overwritten."""
    from django.db import transaction

    from tokens.models import Token

    current = next(iter(seed_keys()))
    done = 0
    for field, label in (("seed_encrypted", str), ("info_key_sealed", info_key_label)):
        rows = Token.objects.exclude(**{field: ""}).values_list("pk", "serial", field)
        for pk, serial, blob in rows:
            if crypto.seed_key_id(blob) == current:
                continue
            fresh = seal_seed(
                open_seed(blob, serial=label(serial)), serial=label(serial)
            )
            with transaction.atomic():
                done += Token.objects.filter(pk=pk, **{field: blob}).update(
                    **{field: fresh}
                )
    return done
