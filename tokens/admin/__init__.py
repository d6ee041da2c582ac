"""The Django admin of the authentication domain, one module per concern;
importing this package registers them all (Django's autodiscovery)."""

from tokens.admin import (  # noqa: F401 - each registers its admins
    apiclients,
    audit,
    passkeys,
    policies,
    tokens,
    users,
)
