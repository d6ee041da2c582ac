"""The directory's people, as Tessera's admin and its cron job see them:
finding them before they ever logged in, their policy from their groups,
and keeping Tessera in step (``directory_sync``)."""

from __future__ import annotations

from dataclasses import dataclass

import ldap
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ldap.filter import escape_filter_chars

from directory.backend import DirectoryBackend, stable_id
from directory.models import DirectoryAccount, GroupRule
from tokens.models import Token
from tokens.services.audit import audit_record
from tokens.services.errors import ServiceError
from tokens.services.lifecycle import token_suspend

SEARCH_LIMIT = 20


class DirectoryUnavailable(ServiceError):
    def __init__(self):
        super().__init__(
            "directory_unavailable",
            "The user directory cannot be reached right now. Try again in a few "
            "minutes; if it lasts, tell your administrator.",
            status=503,
        )


def refuse_when_unreachable(sender, context, user, request, exception, **kwargs):
    """django-auth-ldap reports a directory error and would answer as for a
    wrong password: raise instead, so every door says what happened."""
    raise DirectoryUnavailable() from exception


def directory_policy(user):
    """The policy of the first group rule whose group the user is in."""
    account = DirectoryAccount.objects.filter(user=user).first()
    if account is None or not account.groups:
        return None
    groups = {g.lower() for g in account.groups}
    for rule in GroupRule.objects.select_related("policy"):
        if rule.group_dn.lower() in groups:
            if account.policy_group != rule.group_dn:
                DirectoryAccount.objects.filter(pk=account.pk).update(
                    policy_group=rule.group_dn
                )
            return rule.policy
    return None


def _connection():
    conn = ldap.initialize(settings.AUTH_LDAP_SERVER_URI)
    for option, value in settings.AUTH_LDAP_CONNECTION_OPTIONS.items():
        conn.set_option(option, value)
    if settings.AUTH_LDAP_START_TLS:
        conn.start_tls_s()
    conn.simple_bind_s(settings.AUTH_LDAP_BIND_DN, settings.AUTH_LDAP_BIND_PASSWORD)
    return conn


def _search(filterstr: str, limit: int = 0) -> list[tuple[str, dict]]:
    try:
        conn = _connection()
        try:
            found = conn.search_ext_s(
                settings.TESSERA_LDAP_USER_BASE,
                ldap.SCOPE_SUBTREE,
                filterstr,
                ["*", "+"],
                sizelimit=limit,
            )
        except ldap.SIZELIMIT_EXCEEDED:
            found = []
        finally:
            conn.unbind_s()
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable() from exc
    return [(dn, attrs) for dn, attrs in found if dn]


def _who(filter_user: str) -> str:
    return settings.TESSERA_LDAP_USER_FILTER % {"user": filter_user}


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    email: str
    dn: str


def _text(attrs: dict, name: str) -> str:
    values = attrs.get(name) or []
    return values[0].decode("utf-8", "replace") if values else ""


def directory_search(query: str) -> list[Person]:
    """People whose username, name or email contains ``query`` (who may log
    in: the user filter applies); at most ``SEARCH_LIMIT``."""
    text = escape_filter_chars(query.strip())
    if not text:
        return []
    username_attr = settings.TESSERA_LDAP_ATTR_USERNAME
    match = f"(|({username_attr}=*{text}*)(cn=*{text}*)(mail=*{text}*))"
    found = _search(f"(&{_who('*')}{match})", SEARCH_LIMIT)
    people = [
        Person(
            username=_text(attrs, username_attr),
            name=_text(attrs, "cn") or _text(attrs, "displayName"),
            email=_text(attrs, "mail"),
            dn=dn,
        )
        for dn, attrs in found
    ]
    return sorted(people, key=lambda p: p.username)[:SEARCH_LIMIT]


def directory_user_ensure(username: str):
    """The Django user of the directory entry ``username`` (made now if it
    never logged in), or None when the directory has no such person."""
    return DirectoryBackend().populate_user(username)


def _id_filter(key: str) -> str:
    attr = settings.TESSERA_LDAP_ATTR_ID
    if key.startswith("hex:"):
        escaped = "".join("\\" + format(b, "02x") for b in bytes.fromhex(key[4:]))
        return f"({attr}={escaped})"
    return f"({attr}={escape_filter_chars(key)})"


def directory_sync(*, actor: str = "directory") -> dict:
    """Keep Tessera in step with the directory: people gone or disabled there
    (no longer found by the user filter) lose their tokens at once (suspended)
    and cannot log in; people still there get their name, email and groups
    again. Raises ``DirectoryUnavailable`` (and changes nothing) when the
    directory cannot be searched: it never suspends everyone because the
    directory is down. Returns what it did; audited."""
    report = {"checked": 0, "updated": [], "suspended": {}, "back": []}
    for account in DirectoryAccount.objects.select_related("user"):
        report["checked"] += 1
        found = _search(f"(&{_id_filter(account.directory_id)}{_who('*')})", 2)
        if found:
            dn, attrs = found[0]
            username = _text(attrs, settings.TESSERA_LDAP_ATTR_USERNAME)
            if stable_id(attrs) == account.directory_id and username:
                if account.missing_since is not None:
                    report["back"].append(username)
                directory_user_ensure(username)
                report["updated"].append(username)
                continue
        report["suspended"][account.user.get_username()] = _lose(account, actor)
    audit_record(
        action="directory.sync",
        outcome="info",
        actor=actor,
        checked=report["checked"],
        updated=len(report["updated"]),
        suspended=report["suspended"],
        back=report["back"],
    )
    return report


@transaction.atomic
def _lose(account: DirectoryAccount, actor: str) -> list[str]:
    """The person is gone or disabled: no login, tokens suspended."""
    user = account.user
    if account.missing_since is None:
        account.missing_since = timezone.now()
        account.save(update_fields=["missing_since"])
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_record(
            action="directory.user_missing",
            outcome="info",
            actor=actor,
            username=user.get_username(),
            dn=account.dn,
        )
    suspended = []
    live = Token.objects.filter(
        user=user,
        state__in=(Token.State.ACTIVE, Token.State.LOCKED, Token.State.ASSIGNED),
    )
    for token in live:
        token_suspend(token=token, actor=actor)
        suspended.append(token.serial)
    return suspended
