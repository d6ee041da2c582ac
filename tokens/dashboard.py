"""The figures of the admin dashboard and of a user's overview page (reads only).

Every count is one aggregate query on an indexed column, so the dashboard
stays quick with millions of audit rows: failed validations are counted over
the last 48 hours of ``AuditEvent.created_at`` (indexed), pushes over the
last 14 days of ``PushChallenge``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from tokens.models import AuditEvent, Enrollment, Passkey, PushChallenge, Token

PUSH_DAYS = 14
FAILURE_HOURS = 48
PUSH_OUTCOMES = ("approved", "denied", "fraud", "expired")


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def tokens_by_state() -> dict[str, int]:
    counts = dict(Token.objects.values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in Token.State.values}


def enrollment_counts(now: datetime) -> dict[str, int]:
    open_ = Enrollment.objects.filter(used_at__isnull=True, voided_at__isnull=True)
    return {
        "pending": open_.filter(expires_at__gt=now).count(),
        "expired": open_.filter(expires_at__lte=now).count(),
    }


def pushes_per_day(now: datetime) -> list[tuple[datetime, dict[str, int]]]:
    """The last 14 days (oldest first), each with its pushes by outcome; a
    denial reported as fraud counts as fraud, not denied."""
    today = _local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=PUSH_DAYS - 1)
    rows = (
        PushChallenge.objects.filter(created_at__gte=first)
        .annotate(day=TruncDay("created_at"))
        .values("day")
        .annotate(
            approved=Count("id", filter=Q(state="approved")),
            denied=Count("id", filter=Q(state="denied", fraud=False)),
            fraud=Count("id", filter=Q(state="denied", fraud=True)),
            expired=Count("id", filter=Q(state="expired")),
        )
    )
    by_day = {_local(r["day"]).date(): r for r in rows}
    days = []
    for i in range(PUSH_DAYS):
        day = first + timedelta(days=i)
        row = by_day.get(day.date(), {})
        days.append((day, {k: row.get(k, 0) for k in PUSH_OUTCOMES}))
    return days


def failed_validations_per_hour(now: datetime) -> list[tuple[datetime, int]]:
    """Rejected passcodes in each of the last 48 hours (oldest first)."""
    this_hour = _local(now).replace(minute=0, second=0, microsecond=0)
    first = this_hour - timedelta(hours=FAILURE_HOURS - 1)
    rows = (
        AuditEvent.objects.filter(
            created_at__gte=first, action="otp.validate", outcome="failure"
        )
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(n=Count("id"))
    )
    by_hour = {_local(r["hour"]).replace(tzinfo=None): r["n"] for r in rows}
    hours = []
    for i in range(FAILURE_HOURS):
        hour = first + timedelta(hours=i)
        hours.append((hour, by_hour.get(hour.replace(tzinfo=None), 0)))
    return hours


def locked_tokens(limit: int = 50):
    return (
        Token.objects.filter(state=Token.State.LOCKED)
        .select_related("user")
        .order_by("locked_until", "serial")[:limit]
    )


def dashboard_figures(now: datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "tokens": tokens_by_state(),
        "enrollments": enrollment_counts(now),
        "pushes": pushes_per_day(now),
        "failures": failed_validations_per_hour(now),
        "locked": list(locked_tokens()),
        "users": get_user_model().objects.filter(is_active=True).count(),
    }


def user_overview(user, audit_limit: int = 25) -> dict:
    """A user's tokens, passkeys, recent audit and push requests."""
    username = user.get_username()
    return {
        "tokens": list(
            Token.objects.filter(user=user).select_related("policy").order_by("pk")
        ),
        "passkeys": list(Passkey.objects.filter(user=user).order_by("pk")),
        "audit": list(
            AuditEvent.objects.filter(username=username).order_by("-created_at", "-id")[
                :audit_limit
            ]
        ),
        "pushes": list(
            PushChallenge.objects.filter(username=username).order_by("-created_at")[:10]
        ),
    }
