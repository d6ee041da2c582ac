"""Access to the server's keys, read from settings at call time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def activation_code_label(serial: str) -> str:
    """The sealing context of a token's activation code."""
    return f"{serial}/activation"


@dataclass(frozen=True)
class Sealed:
    """A model's field sealed with the seed keys: ``label`` makes a row's
    sealing context from the value of its ``context`` look-up."""

    model: type
    field: str
    context: str
    label: Callable[[Any], str]


# Sealed values of other apps (radius: its clients' secrets), added by them
# when they are ready, so rotation's last step re-seals them too.
_elsewhere: list[Sealed] = []


def sealed_elsewhere(model, field: str, context: str, label: Callable) -> None:
    if not any(s.model is model and s.field == field for s in _elsewhere):
        _elsewhere.append(Sealed(model, field, context, label))


def _sealed() -> list[Sealed]:
    from tokens.models import Enrollment, Token

    return [
        Sealed(Token, "seed_encrypted", "serial", str),
        Sealed(Token, "info_key_sealed", "serial", info_key_label),
        Sealed(Enrollment, "code_sealed", "token__serial", activation_code_label),
        *_elsewhere,
    ]


def seeds_reseal() -> int:
    """Re-seal every seed, info key, activation code and other app's secret
    not sealed with the current key (rotation's last step); returns how
    many. Each row is rewritten only if unchanged since it was read, so a
    concurrent re-activation is never overwritten."""
    from django.db import transaction

    current = next(iter(seed_keys()))
    done = 0
    for sealed in _sealed():
        field, objects = sealed.field, sealed.model.objects
        rows = objects.exclude(**{field: ""}).values_list("pk", sealed.context, field)
        for pk, context, blob in rows:
            if crypto.seed_key_id(blob) == current:
                continue
            label = sealed.label(context)
            fresh = seal_seed(open_seed(blob, serial=label), serial=label)
            with transaction.atomic():
                done += objects.filter(pk=pk, **{field: blob}).update(**{field: fresh})
    return done
