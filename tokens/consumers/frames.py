"""What a device may send on its socket: the frame check, pure (no I/O)."""

from __future__ import annotations

MAX_FRAME = 4096
ANSWER_FIELDS = {
    "type",
    "id",
    "serial",
    "decision",
    "number",
    "signature",
    "otp",
    "webauthn",
}
AUTH_FIELDS = {"type", "serial", "signature", "info"}


def frame_problem(content) -> str | None:
    """Why a device frame (already a JSON object) is refused, or None.

    Every field is text, except ``number`` (a whole number, ``""`` or null)
    and ``otp`` (text or null): a list or an object where text belongs must
    get an error frame, not reach a set lookup or the database.
    """
    kind = content.get("type")
    allowed = AUTH_FIELDS if kind == "auth" else ANSWER_FIELDS
    if kind not in ("auth", "answer") or not set(content) <= allowed:
        return "Expected an auth or answer message."
    for name, value in content.items():
        if name == "number":
            ok = value in (None, "") or (
                isinstance(value, int) and not isinstance(value, bool)
            )
        elif name == "otp":
            ok = value is None or isinstance(value, str)
        elif name == "webauthn":
            ok = value is None or isinstance(value, dict)
        elif name == "info":
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            return f"{name} has the wrong type."
    return None
