"""Reads that several callers share."""

from __future__ import annotations

from tokens.models import Policy, Token


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
