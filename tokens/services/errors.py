"""The one exception services raise for a refusal a caller should show."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request: ``code`` for machines, ``detail`` for people.

    ``status`` is the HTTP status a web door should answer with.
    """

    def __init__(
        self, code: str, detail: str, *, status: int = 400, extra: dict | None = None
    ):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra or {}  # more for the device (a token.info message)
