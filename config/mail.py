"""The embedded default email backend: prints emails to the console's stderr.

Django's console backend writes to stdout, which would mix emails into the
output of commands that scripts parse (``assign_token`` prints one JSON object).
"""

import sys

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class StderrConsoleBackend(ConsoleBackend):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
