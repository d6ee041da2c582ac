from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "directory"
    verbose_name = "Users from a directory"

    def ready(self):
        from django_auth_ldap.backend import ldap_error

        from directory.people import directory_policy, refuse_when_unreachable
        from tokens.selectors import policy_sources

        # A directory that cannot be reached is a clear error, never a
        # "wrong password" (and never a fallback to an old password).
        ldap_error.connect(refuse_when_unreachable, dispatch_uid="tessera-ldap")
        # The user's policy comes from their directory groups.
        policy_sources.append(directory_policy)
