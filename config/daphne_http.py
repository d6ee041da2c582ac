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
"""

from __future__ import annotations

from daphne import http_protocol

_WebRequest = http_protocol.WebRequest


class FormlessWebRequest(_WebRequest):
    def __init__(self, *args, **kwargs):
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def install() -> None:
    if http_protocol.WebRequest is _WebRequest:
        http_protocol.WebRequest = FormlessWebRequest
