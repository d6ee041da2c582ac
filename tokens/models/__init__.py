"""The authentication domain's models, one module per concern; the app label
stays ``tokens``, so tables and migrations are as they were.

Models hold fields, constraints and states; every write goes through a
service in ``tokens.services``. Models never import services.
"""

from tokens.models.apiclients import ApiClient
from tokens.models.audit import AuditEvent
from tokens.models.enrollment import Enrollment
from tokens.models.passkeys import Passkey
from tokens.models.policies import PUSH_LIFETIME_MAX, Policy
from tokens.models.push import PushChallenge
from tokens.models.tokens import (
    LOCK_FRAUD,
    LOCK_PASSCODES,
    LOCK_PROOFS,
    TAKES_PUSH,
    Token,
)

__all__ = [
    "LOCK_FRAUD",
    "LOCK_PASSCODES",
    "LOCK_PROOFS",
    "PUSH_LIFETIME_MAX",
    "TAKES_PUSH",
    "ApiClient",
    "AuditEvent",
    "Enrollment",
    "Passkey",
    "Policy",
    "PushChallenge",
    "Token",
]
