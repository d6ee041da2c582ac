"""JSON parsing that refuses oversized, deeply nested and non-object bodies."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from tokens.api.errors import RequestTooDeep, RequestTooLarge
from tokens.wire import JsonTooDeep, NotUnicode, loads_bounded


class StrictJSONParser(BaseParser):
    """Parse a JSON object of at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes.

    DRF's own parser reads the stream without Django's size limit, so a huge
    body would be read whole; this one stops one byte past the limit.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge()
        try:
            data = loads_bounded(raw.decode("utf-8"))
        except JsonTooDeep as exc:
            raise RequestTooDeep(str(exc)) from exc
        except NotUnicode as exc:
            raise ParseError(str(exc)) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError("The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.")
        return data
