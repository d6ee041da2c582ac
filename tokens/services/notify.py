"""Emails to users, sent through Django's configured backend after commit."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from tokens.services.audit import audit_record

log = logging.getLogger(__name__)


def send_templated(
    *, to: str, template: str, context: dict, username: str = ""
) -> None:
    """Render ``email/<template>.{txt,html}`` and send it once the transaction commits."""
    context = {**context, "site_url": settings.SITE_URL}
    subject = render_to_string(f"email/{template}_subject.txt", context).strip()
    text = render_to_string(f"email/{template}.txt", context)
    html = render_to_string(f"email/{template}.html", context)

    def send():
        message = EmailMultiAlternatives(
            subject, text, settings.DEFAULT_FROM_EMAIL, [to]
        )
        message.attach_alternative(html, "text/html")
        try:
            message.send()
        except OSError:
            log.exception("could not send %s email", template)  # never logs the body
            audit_record(
                action=f"email.{template}", outcome="failure", username=username
            )
            return
        audit_record(action=f"email.{template}", outcome="success", username=username)

    transaction.on_commit(send)


def enrollment_email_send(issued) -> bool:
    """The notification email of SafeNet's automatic enrollment: a link to the
    self-enrollment page. Returns False when the user has no address."""
    user = issued.token.user
    if not user.email:
        return False
    send_templated(
        to=user.email,
        template="enrollment",
        context={
            "user": user,
            "serial": issued.token.serial,
            "enrollment_url": issued.enrollment_url,
            "expires": issued.enrollment.expires_at,
        },
        username=user.get_username(),
    )
    return True
