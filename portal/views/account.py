"""The notification email's self-enrollment page, and the user's dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import DEVICE_ID_SESSION_KEY

from portal.forms import PasswordForm, RenameForm
from portal.views.common import (
    PLATFORMS,
    begin_login,
    otp_required,
    phone_here,
    platforms_here_first,
    setup_context,
)
from tokens.models import Passkey, Token
from tokens.services import portal as portal_service
from tokens.services.backup import backup_codes_left, backup_codes_offered
from tokens.services.enrollment import enrollment_by_link
from tokens.services.throttle import allow

# --- the self-enrollment page of the notification email -----------------------


@never_cache
def enroll_link(request, code):
    enrollment = enrollment_by_link(code)
    if enrollment is None:
        return render(request, "portal/link_invalid.html", status=404)
    # On a phone, that phone (the page offers another device); on a computer,
    # the choice, a phone pre-selected.
    platform = request.GET.get("platform") or phone_here(request)
    if platform not in PLATFORMS:
        platforms, here, suggested = platforms_here_first(request)
        return render(
            request,
            "portal/enroll_platforms.html",
            {
                "platforms": platforms,
                "here": here,
                "suggested": suggested,
                "token": enrollment.token,
            },
        )
    context = setup_context(request, enrollment, platform)
    return render(
        request,
        "portal/enroll_link.html",
        {**context, "next_url": _after_activation(request, enrollment.token.user)},
    )


def _after_activation(request, owner) -> str:
    """Where the link page leads once the token is active: into the portal,
    the login already begun for the token's owner (the link was theirs)."""
    if request.user.is_authenticated:
        return reverse("portal:dashboard" if request.user == owner else "portal:home")
    begin_login(request, owner.get_username())
    return reverse("portal:login-continue")


# --- dashboard ------------------------------------------------------------------


@otp_required
def dashboard(request):
    tokens = Token.objects.filter(user=request.user).exclude(state=Token.State.REVOKED)
    return render(
        request,
        "portal/dashboard.html",
        {
            "tokens": tokens.order_by("created_at"),
            "passkeys": Passkey.objects.filter(user=request.user),
            "backup_offered": backup_codes_offered(request.user),
            "backup_left": backup_codes_left(request.user),
        },
    )


def after_removal(request, device_id: str):
    """Back to the dashboard, or, when the removed authenticator (its
    django-otp persistent id, taken before removal) is the one this session
    logged in with, out: the session's second factor is gone."""
    if request.session.get(DEVICE_ID_SESSION_KEY) == device_id:
        logout(request)
        messages.info(
            request,
            _(
                "You removed the authenticator you logged in with. Log in again "
                "with another one to continue."
            ),
        )
        return redirect("portal:home")
    return redirect("portal:dashboard")


def _own_token(request, serial) -> Token:
    token = (
        Token.objects.filter(user=request.user, serial=serial)
        .exclude(state=Token.State.REVOKED)
        .first()
    )
    if token is None:
        raise Http404
    return token


@otp_required
@require_http_methods(["GET", "POST"])
def token_rename(request, serial):
    token = _own_token(request, serial)
    form = RenameForm(request.POST or None, initial={"name": token.name})
    if request.method == "POST" and form.is_valid():
        portal_service.token_rename(
            token=token,
            name=form.cleaned_data["name"],
            actor=f"self:{request.user.get_username()}",
        )
        return redirect("portal:dashboard")
    return render(request, "portal/token_rename.html", {"form": form, "token": token})


@otp_required
@require_http_methods(["GET", "POST"])
def token_remove(request, serial):
    token = _own_token(request, serial)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not allow("password", request.user.get_username(), limit=5, window=300):
            form.add_error(
                None, _("Too many attempts. Wait a few minutes and try again.")
            )
        elif (
            authenticate(
                request,
                username=request.user.get_username(),
                password=form.cleaned_data["password"],
            )
            is not None
        ):
            portal_service.token_remove(
                token=token, actor=f"self:{request.user.get_username()}"
            )
            messages.success(request, _("%(serial)s was removed.") % {"serial": serial})
            return after_removal(request, token.persistent_id)
        else:
            form.add_error("password", _("That password is not right."))
    return render(request, "portal/token_remove.html", {"form": form, "token": token})
