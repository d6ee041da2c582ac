"""What the portal's views share: session state, request facts, guards."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from portal.browser import PHONES, describe_browser, platform_of
from tokens.addresses import request_ip as client_ip
from tokens.consumers import PUSH_SESSION_KEY, WATCH_SESSION_KEY
from tokens.models import PushChallenge
from tokens.qr import qr_svg
from tokens.services.enrollment import enrollment_reveal

PLATFORMS = {
    "android": _("Android phone or tablet"),
    "ios": _("iPhone or iPad"),
    "windows": _("Windows"),
    "macos": _("macOS"),
    "linux": _("Linux"),
}
WIZARD = "tessera_wizard"
LOGIN_USERNAME = "tessera_login_username"
LOGIN_NEXT = "tessera_login_next"  # where a login goes after (e.g. /admin/)
LOST = "tessera_lost"  # the username whose phone is being reported
PASSWORD_CHECKED = "tessera_password_checked"  # noqa: S105 - a session key
PASSKEY_CHALLENGE = "tessera_webauthn"
# Every step's state of one person's journey, dropped when another name is
# typed: nothing proven for one user may ever be read for another.
JOURNEY_KEYS = (
    WIZARD,
    PUSH_SESSION_KEY,
    LOST,
    PASSWORD_CHECKED,
    PASSKEY_CHALLENGE,
)


def begin_login(request, username: str) -> None:
    """The login's name is ``username`` from now on; when it is another name
    than before, every journey of the previous one starts afresh."""
    if request.session.get(LOGIN_USERNAME) != username:
        for key in JOURNEY_KEYS:
            request.session.pop(key, None)
    request.session[LOGIN_USERNAME] = username


def wizard_state(request, user) -> dict:
    """This session's Add Authenticator state proven for ``user``; a state
    proven for anyone else is never returned (the journey starts afresh)."""
    state = request.session.get(WIZARD)
    if (
        isinstance(state, dict)
        and user is not None
        and state.get("uid") == user.pk
        and state.get("username") == user.get_username()
    ):
        return state
    return {}


def wizard_user_id(request) -> int | None:
    """Whom this session's wizard state was proven for, if anyone."""
    state = request.session.get(WIZARD)
    return state.get("uid") if isinstance(state, dict) else None


def save_wizard(request, user, state: dict) -> None:
    """Keep ``state`` as ``user``'s, bound to the user's id and name."""
    request.session[WIZARD] = {
        **state,
        "uid": user.pk,
        "username": user.get_username(),
    }


def watch_serial(request, serial: str) -> None:
    serials = [s for s in request.session.get(WATCH_SESSION_KEY, []) if s != serial]
    request.session[WATCH_SESSION_KEY] = [*serials, serial][-5:]


def platforms_here_first(request) -> tuple[dict, str, str]:
    """PLATFORMS in the order a person most likely wants them, this
    browser's own platform, and the one to pre-select: on a phone, that
    phone; on a computer, a phone (Tessera goes on the phone that will
    approve, which scans the QR code this computer shows)."""
    here = platform_of(request.META.get("HTTP_USER_AGENT", ""))
    suggested = here if here in PHONES else "android"
    order = [suggested, *PHONES, here]
    ordered = sorted(
        PLATFORMS.items(),
        key=lambda item: order.index(item[0]) if item[0] in order else len(order),
    )
    return dict(ordered), here, suggested


def phone_here(request) -> str:
    """The phone platform this browser runs on, or ""."""
    here = platform_of(request.META.get("HTTP_USER_AGENT", ""))
    return here if here in PHONES else ""


def browser_of(request) -> str:
    return describe_browser(request.META.get("HTTP_USER_AGENT", ""))


def remember_push(request, challenge, purpose: str) -> None:
    request.session[PUSH_SESSION_KEY] = {
        "id": str(challenge.pk),
        "username": challenge.username,
        "purpose": purpose,
    }


def session_push(request, purpose: str, username: str) -> PushChallenge | None:
    """This browser's own push of ``purpose`` for ``username``, if any."""
    state = request.session.get(PUSH_SESSION_KEY)
    if not (
        isinstance(state, dict)
        and state.get("purpose") == purpose
        and state.get("username") == username
    ):
        return None
    return PushChallenge.objects.filter(pk=state["id"], username=username).first()


def otp_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not (request.user.is_authenticated and request.user.is_verified()):
            return redirect("portal:login")
        return view(request, *args, **kwargs)

    return wrapper


def setup_context(request, enrollment, platform: str) -> dict:
    """What a set-up screen shows: QR code, activation string, same-device link."""
    text = enrollment_reveal(enrollment=enrollment, ip=client_ip(request))
    token = enrollment.token
    link = f"{settings.SITE_URL}/app/#activate={text}"
    watch_serial(request, token.serial)
    here = platform_of(request.META.get("HTTP_USER_AGENT", ""))
    return {
        "token": token,
        "platform": platform,
        # Reading this on the phone that will activate: the same-device
        # button first (a QR code on the phone that must scan it is useless).
        "same_device": here in PHONES and here == platform,
        "platform_name": PLATFORMS.get(platform, ""),
        "activation_string": text,
        "activation_link": link,
        "qr": qr_svg(link) if token.policy.qr_enrollment else None,
        "app_url": f"{settings.SITE_URL}/app/",
        "expires_at": enrollment.expires_at,
    }
