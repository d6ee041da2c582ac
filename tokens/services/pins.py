"""PIN rules of a policy, shared by the server-PIN path and the API."""

from __future__ import annotations

from tokens.models import Policy


def pin_rule_error(policy: Policy, pin: str) -> str | None:
    """A sentence saying why ``pin`` breaks the policy's rules, or None."""
    if not isinstance(pin, str) or not pin.isascii():
        return "The PIN may use only digits and unaccented letters."
    if not policy.pin_min_length <= len(pin) <= policy.pin_max_length:
        return (
            f"The PIN must have {policy.pin_min_length} to "
            f"{policy.pin_max_length} characters."
        )
    if policy.pin_charset == Policy.PinCharset.NUMERIC and not pin.isdigit():
        return "The PIN must contain digits only."
    if not pin.isalnum():
        return "The PIN may contain only letters and digits."
    return None
