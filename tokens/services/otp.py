"""Passcode verification: the one implementation every door calls.

Guarantees:
- a server PIN is checked (keyed digest, constant time) before any OTP is
  looked at, so a wrong PIN never consumes a code;
- a code is consumed by one conditional UPDATE, so the same code sent on many
  connections at once is accepted exactly once; its audit row is written
  with it, all or nothing (on PostgreSQL in the same statement: the
  validation's look-up and that statement are its only round trips);
- only active tokens authenticate; failures are counted and lock the token at
  the policy's threshold: for the policy's delay, doubled with each lockout
  since the last success and capped (so five wrong codes from any API client
  cannot lock a user out for good), or until an administrator unlocks it
  when the policy's delay is 0;
- every attempt is audited, and callers learn only accept or reject;
- unknown users and users without a usable token cost the same work as a
  wrong code (a seed decryption, the HMACs of a window, the failure-count
  UPDATE and lock SELECT), so the time of a reject does not tell them apart.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tokens import crypto, oath
from tokens.models import AuditEvent, Policy, Token
from tokens.prepared import PreparedSelect, update_then_insert
from tokens.services import keys
from tokens.services.audit import audit_record, audit_values
from tokens.services.backup import backup_code_validate, looks_like_backup_code
from tokens.services.lockout import audit_locks, auto_unlock, count_failures
from tokens.services.pins import pin_rule_error

HOTP_LOOKAHEAD = 10
_DUMMY_SERIAL = "TSR-0000-0000"
_dummy_blob: dict[bytes, str] = {}  # per current seed key


class Match(enum.Enum):
    ACCEPT = "accept"
    WRONG = "wrong"  # counts as a failure
    REPLAY = "replay"  # right code, already used: a failure too
    UNUSABLE = "unusable"  # token state forbids use; not counted


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    token: Token | None = None

    @property
    def result(self) -> str:
        return "accept" if self.accepted else "reject"


def _split_pin(token: Token, passcode: str) -> tuple[str, str]:
    digits = token.policy.digits
    if token.policy.pin_mode == Policy.PinMode.SERVER:
        return passcode[:-digits], passcode[-digits:]
    return "", passcode


def _check_pin(token: Token, pin: str) -> bool:
    if token.policy.pin_mode != Policy.PinMode.SERVER:
        return True
    if not token.server_pin_digest:
        # After an admin reset the next PIN typed becomes the PIN, provided
        # it follows the rules and the OTP that comes with it is right.
        return pin_rule_error(token.policy, pin) is None
    digest = keys.server_pin_digest(pin, serial=token.serial)
    return crypto.constant_time_equal(digest, token.server_pin_digest)


def _consume(token: Token, mark: str, value: int, guard: str, when, pin_to_set, seen):
    """The one conditional UPDATE that spends a code: ``mark`` (counter or
    last_t) moves to ``value`` only if it still satisfies ``guard`` against
    it, so of two requests with the same code exactly one changes the row;
    the success's audit row (``seen``: who, from where) is written with it."""
    fields = {mark: value, **_success_fields(when, pin_to_set, token)}
    return update_then_insert(
        Token,
        set_values=fields,
        where={
            "id": ("=", token.pk),
            "state": ("=", Token.State.ACTIVE),
            mark: (guard, value if guard == "<" else value - 1),
        },
        insert=(
            AuditEvent,
            audit_values(
                action="otp.validate", outcome="success", serial=token.serial, **seen
            ),
        ),
    )


def _success_fields(now, pin_to_set: str | None, token: Token) -> dict:
    fields = {"failure_count": 0, "lockouts": 0, "last_used_at": now}
    if token.enrolled_at is None:
        fields["enrolled_at"] = now  # the first use; two at once write the same
    if pin_to_set is not None:
        fields["server_pin_digest"] = keys.server_pin_digest(
            pin_to_set, serial=token.serial
        )
    return fields


def _match(token: Token, passcode: str, now: float, seen: dict) -> Match:
    """Check ``passcode`` against one token and consume it if right."""
    auto_unlock(token, seen["username"])
    if token.state != Token.State.ACTIVE or not token.seed_encrypted:
        return Match.UNUSABLE
    policy = token.policy
    pin, otp = _split_pin(token, passcode)
    if len(otp) != policy.digits or not otp.isdigit():
        return Match.WRONG
    if not _check_pin(token, pin):
        return Match.WRONG
    pin_to_set = pin if (pin and not token.server_pin_digest) else None
    seed = keys.open_seed(token.seed_encrypted, serial=token.serial)
    when = timezone.now()
    if policy.otp_kind == Policy.OtpKind.EVENT:
        for c in range(token.counter, token.counter + HOTP_LOOKAHEAD):
            code = oath.hotp(seed, c, digits=policy.digits, algorithm=policy.algorithm)
            if crypto.constant_time_equal(code, otp):
                consumed = _consume(
                    token, "counter", c + 1, "<=", when, pin_to_set, seen
                )
                return Match.ACCEPT if consumed else Match.REPLAY
        return Match.WRONG
    step = oath.time_step(now, policy.period) + token.drift
    for t in range(step - policy.otp_window, step + policy.otp_window + 1):
        code = oath.hotp(seed, t, digits=policy.digits, algorithm=policy.algorithm)
        if crypto.constant_time_equal(code, otp):
            if t <= token.last_t:
                return Match.REPLAY
            consumed = _consume(token, "last_t", t, "<", when, pin_to_set, seen)
            return Match.ACCEPT if consumed else Match.REPLAY
    return Match.WRONG


def _dummy_match(passcode: str, now: float) -> None:
    """The work of ``_match`` on a wrong code, for a caller with no token."""
    key = next(iter(keys.seed_keys().values()), b"")
    if key not in _dummy_blob:
        _dummy_blob[key] = keys.seal_seed(bytes(20), serial=_DUMMY_SERIAL)
    seed = keys.open_seed(_dummy_blob[key], serial=_DUMMY_SERIAL)
    step = oath.time_step(now, 30)
    for t in range(step - 1, step + 2):
        crypto.constant_time_equal(oath.hotp(seed, t, digits=6), passcode[-6:])


def token_proves_seed(token: Token, otp: str, now: float | None = None) -> bool:
    """Whether ``otp`` is a code of the token's seed near where it stands.

    Not a login: nothing is consumed, and codes already used count too. A push
    approval uses it as proof that the token PIN opened the right seed (a
    wrong PIN opens a plausible wrong one, whose codes do not match).
    """
    policy = token.policy
    if not token.seed_encrypted or len(otp) != policy.digits or not otp.isdigit():
        return False
    seed = keys.open_seed(token.seed_encrypted, serial=token.serial)
    if policy.otp_kind == Policy.OtpKind.EVENT:
        low = max(0, token.counter - HOTP_LOOKAHEAD)
        candidates = range(low, token.counter + HOTP_LOOKAHEAD)
    else:
        now = time.time() if now is None else now
        step = oath.time_step(now, policy.period) + token.drift
        candidates = range(step - policy.otp_window, step + policy.otp_window + 1)
    found = False
    for n in candidates:  # no early exit: the time does not tell which matched
        code = oath.hotp(seed, n, digits=policy.digits, algorithm=policy.algorithm)
        found |= crypto.constant_time_equal(code, otp)
    return found


def verify_tokens(
    *,
    tokens: list[Token],
    username: str,
    passcode: str,
    source: str,
    ip: str | None = None,
    client: str = "",
    rp_ip: str | None = None,
    now: float | None = None,
) -> Outcome:
    """Try ``passcode`` against ``tokens`` of one user; count and audit.

    ``ip`` is the end user's address (as a relying party reports it);
    ``rp_ip`` the address the request itself came from, audited beside it.
    """
    seen = {"username": username, "source": source, "ip": ip, "client": client}
    if rp_ip:
        seen["rp_ip"] = rp_ip
    now = time.time() if now is None else now
    results = [(token, _match(token, passcode, now, seen)) for token in tokens]
    if not tokens:
        _dummy_match(passcode, now)
    accepted = next((t for t, m in results if m is Match.ACCEPT), None)
    if accepted is not None:  # spent and audited by _consume
        return Outcome(True, accepted)
    counted = [t for t, m in results if m in (Match.WRONG, Match.REPLAY)]
    reasons = {t.serial: m.value for t, m in results}
    with transaction.atomic(savepoint=False):  # counted, locked and audited
        locked = count_failures(counted)
        audit_record(
            action="otp.validate",
            outcome="failure",
            serial=counted[0].serial if len(counted) == 1 else "",
            **seen,
            reasons=reasons,
            **({"locked": locked} if locked else {}),
            **({} if tokens else {"reason": "no usable token or unknown user"}),
        )
        audit_locks(locked, username, source)
    return Outcome(False)


# The tokens a passcode may be for: the hot path's look-up, compiled once.
_tokens_of = PreparedSelect(
    lambda username: Token.objects.filter(
        user__username=username,
        user__is_active=True,
        state__in=(Token.State.ACTIVE, Token.State.LOCKED),
    ).select_related("policy"),
    "username",
)


def validate_passcode(
    *,
    username: str,
    passcode: str,
    source: str,
    ip: str | None = None,
    client: str = "",
    rp_ip: str | None = None,
    now: float | None = None,
) -> Outcome:
    """Validate ``passcode`` (or PIN + passcode) for ``username``.

    Unknown users, users without tokens and wrong codes look the same to the
    caller: a reject. The attempt, its consumption or failure count and its
    audit row are one transaction: none is written without the others.
    A backup code (letters and digits, ``tokens.services.backup``) is taken
    instead where the user's policy lets relying applications accept one.
    """
    if looks_like_backup_code(passcode):
        with transaction.atomic():
            accepted = backup_code_validate(
                username=username, code=passcode, ip=ip, client=client, rp_ip=rp_ip
            )
        return Outcome(accepted)
    # No transaction around the look-up: what it read is checked again by
    # the writes (the code's UPDATE is conditional; failures are counted by
    # increment), and each write is atomic with its audit row.
    return verify_tokens(
        tokens=_tokens_of(username=username),
        username=username,
        passcode=passcode,
        source=source,
        ip=ip,
        client=client,
        rp_ip=rp_ip,
        now=now,
    )


def token_verify_passcode(*, token: Token, passcode: str, source: str) -> bool:
    """django-otp's ``Device.verify_token`` for one token."""
    token = Token.objects.select_related("policy", "user").get(pk=token.pk)
    outcome = verify_tokens(
        tokens=[token],
        username=token.user.get_username(),
        passcode=passcode,
        source=source,
    )
    return outcome.accepted
