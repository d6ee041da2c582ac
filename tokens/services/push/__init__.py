"""Push approvals (PROTOCOL §4–§5): the one implementation every door calls.

``challenges`` creates and expires them, ``devices`` checks device requests,
``answers`` decides on signed answers.

Guarantees:
- a challenge goes to every active push token of the user, and is announced
  to their devices only once it has committed;
- an answer counts only when its signature verifies with the device key of a
  token the challenge went to, before expiry; the first such answer decides
  (a conditional UPDATE), later ones change nothing;
- under number matching, approving with the wrong number denies the login,
  so trying all three numbers does not work;
- push fatigue: one pending challenge per user and application, and none for
  a cool-down after a denial;
- a "this wasn't me" answer is a denial that is audited, emails the user and,
  per policy, locks the user's tokens;
- unknown users get a challenge like anyone else's that simply expires, so
  the API never tells whether a user or token exists;
- with a token PIN, an approval proves the PIN (a version 2 answer's code
  must match the seed); a wrong proof counts as a failed passcode.
"""

from tokens.services.push.answers import AnswerResult, push_answer
from tokens.services.push.challenges import (
    challenge_payload,
    push_cancel,
    push_create,
    push_expire_if_due,
    push_for_client,
    push_login_complete,
    push_pending_payloads,
    push_state_now,
    push_status,
    push_tokens,
)
from tokens.services.push.devices import (
    device_authenticate,
    device_poll,
    device_remove,
)

__all__ = [
    "AnswerResult",
    "challenge_payload",
    "device_authenticate",
    "device_poll",
    "device_remove",
    "push_answer",
    "push_cancel",
    "push_create",
    "push_expire_if_due",
    "push_for_client",
    "push_login_complete",
    "push_pending_payloads",
    "push_state_now",
    "push_status",
    "push_tokens",
]
