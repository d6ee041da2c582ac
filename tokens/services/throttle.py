"""A small fixed-window throttle for forms (login, codes, passwords)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def allow(scope: str, *parts: str, limit: int = 10, window: int = 300) -> bool:
    """Count one attempt; False once ``limit`` attempts fell in ``window`` seconds."""
    key = (
        "throttle:" + scope + ":" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    )
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
        count = 1
    return count <= limit
