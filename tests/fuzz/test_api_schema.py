"""schemathesis over /api/schema/, against a live daphne on the test database.

Bounded and seeded: a few hundred cases in all. Every answer must be one the
schema documents (status, content type, body), no input may cause a 500, a
405 must say what is allowed, and what the schema calls valid must not be
refused as malformed.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    unsupported_method,
)

from tests.servers import free_port, start_daphne, stop
from tokens.services.apiclients import api_client_create


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    port = free_port()
    process = start_daphne(port, {"SITE_URL": f"http://localhost:{port}"}, "fuzz.log")
    yield f"http://localhost:{port}"
    stop(process)


@pytest.fixture
def api_schema(server, transactional_db):
    _, key = api_client_create(name="fuzz", actor="test")
    schema = schemathesis.openapi.from_url(server + "/api/schema/")
    schema.config.headers = {"Authorization": f"Bearer {key}"}
    return schema


def test_the_api_answers_as_its_schema_says(api_schema):
    """Each operation in turn (schemathesis's pytest loader does not run on
    this pytest, so the operations' strategies drive hypothesis directly)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(operation.as_strategy())
        @settings(
            max_examples=int(os.environ.get("FUZZ_EXAMPLES", "50")),
            derandomize=os.environ.get("FUZZ_RANDOM") is None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            # A device request's validity lies in signatures and one-time
            # codes, which no schema can say: a schema-valid but unsigned body
            # is rightly a 400 there. Everywhere else, schema-valid means
            # accepted (a 200, or a refusal the schema lists, never a 400).
            device = case.path.startswith("/api/v1/device/")
            case.call_and_validate(
                additional_checks=[unsupported_method],
                excluded_checks=[positive_data_acceptance] if device else [],
            )

        run()
