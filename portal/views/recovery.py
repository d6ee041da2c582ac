"""When the phone is not at hand: log in with a backup code, or report the
phone lost (password + email code), which suspends its tokens and leads
straight into adding a new phone; and the backup codes page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.forms import BackupLoginForm, CodeForm, LostForm
from portal.views.common import (
    LOGIN_USERNAME,
    LOST,
    PLATFORMS,
    client_ip,
    otp_required,
    platforms_here_first,
    save_wizard,
    setup_context,
    wizard_state,
)
from portal.views.login import logged_in, password_ok_user, throttled
from tokens.models import Token
from tokens.services import portal as portal_service
from tokens.services.backup import (
    backup_code_use,
    backup_codes_generate,
    backup_codes_left,
    backup_codes_offered,
)
from tokens.services.enrollment import enrollment_issue
from tokens.services.errors import ServiceError
from tokens.services.verification import verification_check, verification_send


def _password_user(request, form):
    """The user of this login: already checked in this session, or by the
    form's password now (throttled like the login); None when not."""
    username = request.session.get(LOGIN_USERNAME) or ""
    user = password_ok_user(request)
    if user is not None:
        return user
    if throttled(request, username, form):
        return None
    user = authenticate(
        request, username=username, password=form.cleaned_data.get("password", "")
    )
    if user is None:
        form.add_error(None, _("That password is not right."))
    return user


@never_cache
@require_http_methods(["GET", "POST"])
def login_backup(request):
    if not request.session.get(LOGIN_USERNAME):
        return redirect("portal:login")
    form = BackupLoginForm(
        request.POST or None, need_password=password_ok_user(request) is None
    )
    if request.method == "POST" and form.is_valid():
        user = _password_user(request, form)
        if user is not None:
            try:
                device = backup_code_use(
                    user=user,
                    code=form.cleaned_data["code"],
                    source="portal",
                    ip=client_ip(request),
                )
            except ServiceError as exc:
                device = None
                form.add_error(None, exc.detail)
            if device is not None:
                left = backup_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "You logged in with a backup code; %(left)s left. "
                        "Make new ones on this page when you run low."
                    )
                    % {"left": left},
                )
                return logged_in(request, user, device, "backup")
            if not form.errors:
                form.add_error("code", _("That backup code is not right, or was used."))
    return render(request, "portal/login_backup.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def lost_start(request):
    """Step 1: the password (if not typed yet), then a code by email."""
    if not request.session.get(LOGIN_USERNAME):
        return redirect("portal:login")
    form = LostForm(
        request.POST if request.method == "POST" else None,  # may have no field
        need_password=password_ok_user(request) is None,
    )
    if request.method == "POST" and form.is_valid():
        user = _password_user(request, form)
        if user is not None:
            state, refusal = verification_send(
                user=user, state=wizard_state(request, user), ip=client_ip(request)
            )
            save_wizard(request, user, state)
            request.session[LOST] = user.get_username()
            if not state.get("sent_at"):  # no code was ever sent for this user
                form.add_error(None, refusal)
            else:
                if refusal:
                    messages.error(request, refusal)
                return redirect("portal:login-lost-verify")
    return render(request, "portal/lost_start.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def lost_verify(request):
    """Step 2: the emailed code; then the tokens are suspended and the user
    adds the new phone (the Add Authenticator wizard, both checks done)."""
    username = request.session.get(LOST)
    user = (
        get_user_model().objects.filter(username=username, is_active=True).first()
        if username and username == request.session.get(LOGIN_USERNAME)
        else None
    )
    state = wizard_state(request, user)
    if user is None or not state.get("sent_at"):
        return redirect("portal:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        state, refusal = verification_check(
            user=user,
            state=state,
            code=form.cleaned_data["code"],
            ip=client_ip(request),
        )
        if refusal:
            save_wizard(request, user, state)
            form.add_error("code", refusal)
        else:
            suspended = portal_service.lost_device_report(
                user=user, ip=client_ip(request)
            )
            request.session.pop(LOST, None)
            save_wizard(request, user, {**state, "verified": True, "password_ok": True})
            messages.info(
                request,
                _(
                    "Your lost phone's authenticator (%(serials)s) is suspended: "
                    "it opens nothing now. Add your new phone."
                )
                % {"serials": ", ".join(suspended) or _("none was active")},
            )
            return redirect("portal:add-app")
    return render(request, "portal/lost_verify.html", {"form": form})


@never_cache  # the codes are shown once: no copy kept by the browser
@otp_required
@require_http_methods(["GET", "POST"])
def backup_codes(request):
    """How many backup codes are left; new ones shown once on request."""
    offered = backup_codes_offered(request.user)
    codes = None
    replaced = backup_codes_left(request.user) > 0
    if request.method == "POST":
        try:
            codes = backup_codes_generate(
                user=request.user, actor=f"user:{request.user.get_username()}"
            )
        except ServiceError as exc:
            messages.error(request, exc.detail)
    return render(
        request,
        "portal/backup_codes.html",
        {
            "codes": codes,
            # The same codes as a file to download (one per line).
            "codes_text": "".join(f"{code}\n" for code in codes or []),
            "replaced": replaced,
            "left": backup_codes_left(request.user),
            "offered": offered,
        },
    )


@otp_required
@require_http_methods(["GET", "POST"])
def token_move(request, serial):
    """Moving to a new phone with the old one in hand: a fresh activation of
    the same token; the old phone keeps working until the new one activates,
    then it is told and stops."""
    token = Token.objects.filter(
        user=request.user,
        serial=serial,
        state__in=(Token.State.ACTIVE, Token.State.LOCKED),
    ).first()
    if token is None:
        messages.error(request, _("That authenticator cannot be moved."))
        return redirect("portal:dashboard")
    platform = request.POST.get("platform")
    if request.method == "POST" and platform in PLATFORMS:
        try:
            issued = enrollment_issue(
                token=token, actor=f"user:{request.user.get_username()}", notify=False
            )
        except ServiceError as exc:
            messages.error(request, exc.detail)
            return redirect("portal:dashboard")
        context = setup_context(request, issued.enrollment, platform)
        return render(request, "portal/move_setup.html", {**context, "move": True})
    ordered, here, suggested = platforms_here_first(request)
    return render(
        request,
        "portal/move_start.html",
        {
            "token": token,
            "platforms": ordered,
            "here": here,
            "suggested": suggested,
        },
    )
