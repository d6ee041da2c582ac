"""Resynchronising a token from two consecutive codes (an HOTP counter that
ran ahead, or a TOTP clock that drifted): an administrator's act, audited."""

from __future__ import annotations

import time

from tokens import crypto, oath
from tokens.models import Policy, Token
from tokens.services import keys
from tokens.services.audit import audit_token_act


def token_resync(
    *, token: Token, first: str, second: str, actor: str, now: float | None = None
) -> bool:
    """Resynchronise from two consecutive codes (HOTP counter or TOTP drift)."""
    now = time.time() if now is None else now
    policy = token.policy
    seed = keys.open_seed(token.seed_encrypted, serial=token.serial)

    def code(n: int) -> str:
        return oath.hotp(seed, n, digits=policy.digits, algorithm=policy.algorithm)

    if policy.otp_kind == Policy.OtpKind.EVENT:
        candidates = range(token.counter, token.counter + 1000)
    else:
        step = oath.time_step(now, policy.period)
        # Within ±100 steps (50 minutes at 30 s), nearest first.
        candidates = sorted(range(step - 100, step + 101), key=lambda s: abs(s - step))
    found = None
    for n in candidates:
        if crypto.constant_time_equal(code(n), first) and crypto.constant_time_equal(
            code(n + 1), second
        ):
            found = n
            break
    if found is not None:
        if policy.otp_kind == Policy.OtpKind.EVENT:
            Token.objects.filter(pk=token.pk).update(counter=found + 2, failure_count=0)
        else:
            Token.objects.filter(pk=token.pk).update(
                drift=found + 1 - oath.time_step(now, policy.period),
                last_t=found + 1,
                failure_count=0,
            )
    audit_token_act(
        action="token.resync",
        token=token,
        actor=actor,
        outcome="success" if found is not None else "failure",
    )
    return found is not None
