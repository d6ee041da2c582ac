"""daphne's HTTP requests without Twisted's form parsing.

Twisted's ``Request`` parses every POST body it receives as a form
(URL-encoded or multipart) into ``request.args``, through the e-mail
package's header parser, unless it is made with
``parsePOSTFormSubmission=False`` (Twisted's documented switch). daphne
never reads ``request.args``: it hands the raw body to the ASGI
application, which parses it once. So the parse was pure waste on every
POST (a tenth of a millisecond on each validation, and a second in-memory
copy of a large form), and daphne offers no setting for it: its protocol
factory names ``daphne.http_protocol.WebRequest`` when it builds each
connection, so that name gets a subclass that passes the switch.

The same subclass refuses a body over ``TESSERA_MAX_BODY_BYTES`` before it
is read: daphne hands the application the whole body as one message, so
without a proxy in front a 100 MB body cost about 186 MB of memory. A request
whose ``Content-Length`` says more is answered ``413`` and the connection is
closed at once; a chunked body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from daphne import http_protocol
from django.conf import settings

_WebRequest = http_protocol.WebRequest
TOO_LARGE = (
    b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
    b"Content-Length: 74\r\nConnection: close\r\n\r\n"
    b'{"error": "request_too_large", "detail": "The request body is too large."}'
)


def max_body_bytes() -> int:
    return settings.TESSERA_MAX_BODY_BYTES


class FormlessWebRequest(_WebRequest):
    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)
        self._received = 0
        self._refused = False

    def _refuse(self) -> None:
        self._refused = True
        self.channel.transport.write(TOO_LARGE)
        self.channel.transport.loseConnection()

    def gotLength(self, length):
        super().gotLength(length if length is None or length <= max_body_bytes() else 0)
        if length is not None and length > max_body_bytes():
            self._refuse()

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > max_body_bytes():
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self._refused:
            super().requestReceived(command, path, version)


def install() -> None:
    if http_protocol.WebRequest is _WebRequest:
        http_protocol.WebRequest = FormlessWebRequest
