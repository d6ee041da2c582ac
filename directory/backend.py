"""django-auth-ldap's backend, keyed by the directory's stable id.

A password is checked by a live bind every time (nothing is cached). The
Django user of a directory entry is found by the entry's stable id
(entryUUID, or objectGUID on Active Directory), so a renamed account keeps
its user and its tokens; its username, name and email follow the directory
at every login. A local account (one with a usable password) is never taken
over by a directory entry of the same name.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_auth_ldap.backend import LDAPBackend

from directory.models import DirectoryAccount


def stable_id(attrs) -> str:
    """The entry's stable id as text (binary ids, like objectGUID, as hex)."""
    values = (attrs or {}).get(settings.TESSERA_LDAP_ATTR_ID) or (attrs or {}).get(
        settings.TESSERA_LDAP_ATTR_ID.lower()
    )
    if not values:
        return ""
    value = values[0]
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            return "hex:" + value.hex()
    return str(value)


def directory_username(ldap_user, typed: str) -> str:
    attrs = ldap_user.attrs or {}
    values = attrs.get(settings.TESSERA_LDAP_ATTR_USERNAME) or attrs.get(
        settings.TESSERA_LDAP_ATTR_USERNAME.lower()
    )
    return str(values[0]) if values else typed


class DirectoryBackend(LDAPBackend):
    def get_or_build_user(self, username, ldap_user):
        key = stable_id(ldap_user.attrs)
        if not key:
            raise ldap_user.AuthenticationFailed("the entry has no stable id")
        name = directory_username(ldap_user, username)
        users = get_user_model()
        account = (
            DirectoryAccount.objects.select_related("user")
            .filter(directory_id=key)
            .first()
        )
        if account is not None:
            user = account.user
            if user.get_username() != name:  # renamed in the directory
                if users.objects.filter(username=name).exclude(pk=user.pk).exists():
                    raise ldap_user.AuthenticationFailed("the new name is taken")
                user.username = name
            return user, False
        existing = users.objects.filter(username=name).first()
        if existing is not None:
            if existing.has_usable_password() or hasattr(existing, "directory"):
                # A local account, or another entry's: never taken over.
                raise ldap_user.AuthenticationFailed("a local account has the name")
            return existing, False
        return users(username=name), True

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        return keep_account(user, ldap_user)

    def populate_user(self, username):
        """A directory entry's Django user, made or updated without its
        password (the admin assigns a token before the first login)."""
        user = super().populate_user(username)
        return keep_account(user, user.ldap_user) if user is not None else None


def keep_account(user, ldap_user):
    """Record where ``user`` comes from: the entry, its groups."""
    if user is None:
        return None
    groups = sorted(ldap_user.group_dns) if settings_has_groups() else []
    before = DirectoryAccount.objects.filter(user=user).first()
    if before is not None and before.missing_since and not user.is_active:
        # Back in the directory after directory_sync had shut them out (the
        # tokens it suspended stay so until an administrator resumes them).
        user.is_active = True
        user.save(update_fields=["is_active"])
    DirectoryAccount.objects.update_or_create(
        user=user,
        defaults={
            "directory_id": stable_id(ldap_user.attrs),
            "dn": ldap_user.dn,
            "groups": groups,
            "synced_at": timezone.now(),
            "missing_since": None,
        },
    )
    return user


def settings_has_groups() -> bool:
    return bool(getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None))
