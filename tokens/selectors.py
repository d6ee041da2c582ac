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


# Where a user's policy may come from besides the default: functions
# ``user -> Policy | None`` that apps add when they are ready (the directory
# maps groups to policies), so the domain never imports them.
policy_sources: list = []


def policy_for(user) -> Policy:
    """The policy new tokens of ``user`` get: the first source that names
    one, else the default."""
    for source in policy_sources:
        policy = source(user)
        if policy is not None:
            return policy
    return policy_default()


def token_states(serials: list[str]) -> dict[str, str]:
    return dict(Token.objects.filter(serial__in=serials).values_list("serial", "state"))
