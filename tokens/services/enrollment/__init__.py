"""Assigning tokens and activating them on a device (PROTOCOL §1–§3).

The seed never travels: both sides derive it from an ECDH exchange, and the
server keeps it only encrypted. Activation codes are stored as digests.
One module per step: ``assign`` (a token and its activation), ``activate``
(a device binds its key), ``confirm`` (the device proves key and seed).
"""

from tokens.services.enrollment.activate import enrollment_activate
from tokens.services.enrollment.assign import (
    DEFAULT_NAME,
    IssuedEnrollment,
    enrollment_by_link,
    enrollment_issue,
    enrollment_reveal,
    token_assign,
)
from tokens.services.enrollment.confirm import token_confirm

__all__ = [
    "DEFAULT_NAME",
    "IssuedEnrollment",
    "enrollment_activate",
    "enrollment_by_link",
    "enrollment_issue",
    "enrollment_reveal",
    "token_assign",
    "token_confirm",
]
