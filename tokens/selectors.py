"""Reads that several callers share."""

from __future__ import annotations

from tokens.models import Policy, PushChallenge, Token


def policy_default() -> Policy:
    """The default policy, created with the documented defaults if missing."""
    policy = Policy.objects.filter(is_default=True).first()
    if policy is None:
        policy, _ = Policy.objects.get_or_create(
            name="Default", defaults={"is_default": True}
        )
    return policy


def token_states(serials: list[str]) -> dict[str, str]:
    return dict(Token.objects.filter(serial__in=serials).values_list("serial", "state"))


def push_challenge_status(challenge_id) -> tuple[str, object]:
    """(state, expires_at) of a challenge, expiring it first if due."""
    from tokens.services.push import push_expire_if_due

    state = push_expire_if_due(challenge_id)
    expires = (
        PushChallenge.objects.filter(pk=challenge_id)
        .values_list("expires_at", flat=True)
        .first()
    )
    return state, expires
