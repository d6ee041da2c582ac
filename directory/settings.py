"""django-auth-ldap's settings from Tessera's environment (read once, by
``config.settings``, only when ``TESSERA_LDAP_URL`` is set).

| variable | meaning | default |
| --- | --- | --- |
| TESSERA_LDAP_URL | one or more servers, space or comma separated | (off) |
| TESSERA_LDAP_BIND_DN, TESSERA_LDAP_BIND_PASSWORD(_FILE) | the search account | anonymous |
| TESSERA_LDAP_USER_BASE | where people are | required |
| TESSERA_LDAP_USER_FILTER | who may log in | (uid=%(user)s) |
| TESSERA_LDAP_START_TLS | StartTLS before binding | true |
| TESSERA_LDAP_CA_FILE | CA certificates for the server's certificate | the system's |
| TESSERA_LDAP_ATTR_USERNAME / _EMAIL / _FIRST_NAME / _LAST_NAME | attribute map | uid, mail, givenName, sn |
| TESSERA_LDAP_ATTR_ID | the stable id | entryUUID |
| TESSERA_LDAP_GROUP_BASE | where groups are (empty: no groups) | |
| TESSERA_LDAP_GROUP_TYPE | groupOfNames, groupOfUniqueNames, posix, activeDirectory, nestedActiveDirectory, nestedGroupOfNames | groupOfNames |
| TESSERA_LDAP_STAFF_GROUP | members get the admin (staff) | |
| TESSERA_LDAP_TIMEOUT | seconds to wait for the directory | 5 |

Active Directory: ``TESSERA_LDAP_USER_FILTER=(&(sAMAccountName=%(user)s)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))``
(disabled accounts excluded), ``TESSERA_LDAP_ATTR_USERNAME=sAMAccountName``,
``TESSERA_LDAP_ATTR_ID=objectGUID``, ``TESSERA_LDAP_GROUP_TYPE=nestedActiveDirectory``.
"""

from __future__ import annotations

import ldap
from django_auth_ldap import config as ldap_config

from config.env import envbool, envint, envstr

GROUP_TYPES = {
    "groupofnames": lambda: ldap_config.GroupOfNamesType(),
    "nestedgroupofnames": lambda: ldap_config.NestedGroupOfNamesType(),
    "groupofuniquenames": lambda: ldap_config.GroupOfUniqueNamesType(),
    "posix": lambda: ldap_config.PosixGroupType(),
    "activedirectory": lambda: ldap_config.ActiveDirectoryGroupType(),
    "nestedactivedirectory": lambda: ldap_config.NestedActiveDirectoryGroupType(),
}


def ldap_settings(url: str) -> dict:
    """The ``AUTH_LDAP_*`` settings, and Tessera's own ``TESSERA_LDAP_*``."""
    servers = " ".join(url.replace(",", " ").split())
    user_base = envstr("TESSERA_LDAP_USER_BASE")
    user_filter = envstr("TESSERA_LDAP_USER_FILTER") or "(uid=%(user)s)"
    id_attr = envstr("TESSERA_LDAP_ATTR_ID") or "entryUUID"
    timeout = envint("TESSERA_LDAP_TIMEOUT", 5)
    options = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,
    }
    ca_file = envstr("TESSERA_LDAP_CA_FILE")
    start_tls = envbool("TESSERA_LDAP_START_TLS", True)
    if start_tls or servers.startswith("ldaps:"):
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        if ca_file:
            options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options
    found = {
        "AUTH_LDAP_SERVER_URI": servers,
        "AUTH_LDAP_BIND_DN": envstr("TESSERA_LDAP_BIND_DN"),
        "AUTH_LDAP_BIND_PASSWORD": envstr("TESSERA_LDAP_BIND_PASSWORD"),
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        # Every attribute, and the operational ones (entryUUID is one).
        "AUTH_LDAP_USER_SEARCH": ldap_config.LDAPSearch(
            user_base, ldap.SCOPE_SUBTREE, user_filter, ["*", "+"]
        ),
        "AUTH_LDAP_USER_ATTRLIST": ["*", "+"],
        "AUTH_LDAP_USER_ATTR_MAP": {
            "first_name": envstr("TESSERA_LDAP_ATTR_FIRST_NAME") or "givenName",
            "last_name": envstr("TESSERA_LDAP_ATTR_LAST_NAME") or "sn",
            "email": envstr("TESSERA_LDAP_ATTR_EMAIL") or "mail",
        },
        # Name and email follow the directory at every login.
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        # Passwords are checked by a live bind every time: nothing is cached.
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        "TESSERA_LDAP_USER_BASE": user_base,
        "TESSERA_LDAP_USER_FILTER": user_filter,
        "TESSERA_LDAP_ATTR_ID": id_attr,
        "TESSERA_LDAP_ATTR_USERNAME": envstr("TESSERA_LDAP_ATTR_USERNAME") or "uid",
    }
    group_base = envstr("TESSERA_LDAP_GROUP_BASE")
    if group_base:
        kind = (envstr("TESSERA_LDAP_GROUP_TYPE") or "groupOfNames").lower()
        if kind not in GROUP_TYPES:
            raise ValueError(f"TESSERA_LDAP_GROUP_TYPE: one of {sorted(GROUP_TYPES)}")
        found["AUTH_LDAP_GROUP_SEARCH"] = ldap_config.LDAPSearch(
            group_base, ldap.SCOPE_SUBTREE, "(objectClass=*)"
        )
        found["AUTH_LDAP_GROUP_TYPE"] = GROUP_TYPES[kind]()
        staff = envstr("TESSERA_LDAP_STAFF_GROUP")
        if staff:
            found["AUTH_LDAP_USER_FLAGS_BY_GROUP"] = {"is_staff": staff}
    return found
