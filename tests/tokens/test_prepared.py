"""tokens.prepared: statements compiled once give what the ORM gives."""

from __future__ import annotations

import uuid

import pytest

from tokens.models import PushChallenge, Token
from tokens.prepared import PreparedSelect, update_where
from tokens.services.push import push_create
from tokens.services.push.challenges import ChallengeLink

links = PreparedSelect(
    lambda serial, pk: ChallengeLink.objects.select_related(
        "pushchallenge", "token"
    ).filter(pushchallenge_id=pk, token__serial=serial),
    "serial",
    typed={"pk": PushChallenge._meta.pk},
)


def pending_challenge(user, now) -> PushChallenge:
    """An unsaved pending request of alice's for VPN."""
    from datetime import timedelta

    return PushChallenge(
        user=user,
        username="alice",
        application="VPN",
        application_key="vpn",
        created_at=now,
        expires_at=now + timedelta(minutes=2),
    )


def test_a_typed_parameter_is_prepared_by_its_field(user, enroll):
    phone, tablet = enroll(user), enroll(user)
    challenge = push_create(username="alice", application="VPN", source="test")
    other = push_create(username="alice", application="Mail", source="test")
    for pk in (challenge.pk, str(challenge.pk)):  # a UUID or its text
        (link,) = links(pk=pk, serial=tablet.serial)
        assert link.pushchallenge == challenge and link.token.serial == tablet.serial
        expected = ChallengeLink.objects.get(
            pushchallenge=challenge, token__serial=tablet.serial
        )
        assert link.pk == expected.pk
    assert links(pk=other.pk, serial=phone.serial)[0].pushchallenge == other
    assert links(pk=uuid.uuid4(), serial=phone.serial) == []
    assert links(pk=challenge.pk, serial="TSR-NOPE") == []


def test_each_parameter_must_be_one_exact_match(db):
    twice = PreparedSelect(
        lambda serial: Token.objects.filter(serial=serial, user__username=serial),
        "serial",
    )
    with pytest.raises(ValueError, match="once"):
        twice(serial="x")
    contains = PreparedSelect(
        lambda serial: Token.objects.filter(serial__contains=serial), "serial"
    )
    with pytest.raises(ValueError, match="once"):
        contains(serial="x")


def test_update_where_takes_pk_and_is_null(user, enroll):
    device = enroll(user)
    token = Token.objects.get(serial=device.serial)
    Token.objects.filter(pk=token.pk).update(enrolled_at=None)
    when = token.created_at
    where = {"pk": ("=", token.pk), "enrolled_at": ("is", None)}
    assert update_where(Token, set_values={"enrolled_at": when}, where=where) == 1
    assert update_where(Token, set_values={"enrolled_at": when}, where=where) == 0
    assert Token.objects.get(pk=token.pk).enrolled_at == when
    with pytest.raises(ValueError):
        update_where(Token, set_values={"name": "x"}, where={"pk": ("!=", token.pk)})


def test_insert_together_writes_what_bulk_create_would(user, enroll):
    from datetime import timedelta

    from django.utils import timezone

    from tokens.prepared import insert_together

    phone, tablet = enroll(user), enroll(user)
    now = timezone.now()
    challenge = PushChallenge(
        user=user,
        username="alice",
        application="VPN",
        application_key="vpn",
        numbers=[12, 34, 56],
        number=34,
        created_at=now,
        expires_at=now + timedelta(minutes=2),
    )
    insert_together([[challenge]])
    tokens = Token.objects.filter(serial__in=[phone.serial, tablet.serial])
    insert_together(
        [[ChallengeLink(pushchallenge_id=challenge.pk, token_id=t.pk) for t in tokens]]
    )
    stored = PushChallenge.objects.get(pk=challenge.pk)
    assert (stored.numbers, stored.number, stored.created_at) == ([12, 34, 56], 34, now)
    assert set(stored.tokens.values_list("serial", flat=True)) == {
        phone.serial,
        tablet.serial,
    }
    assert all(
        link.pk for link in ChallengeLink.objects.filter(pushchallenge=challenge)
    )
    insert_together([[]])  # nothing to do
    with pytest.raises(TypeError):
        insert_together([[challenge, Token()]])


def test_insert_together_writes_rows_that_refer_to_each_other_at_once(user, enroll):
    """A push's challenge, its links and its audit row: one statement on
    PostgreSQL (the links refer to the challenge inserted beside them), one
    a list elsewhere; and a refused row refuses them all."""

    from django.db import IntegrityError, connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tokens.models import AuditEvent
    from tokens.prepared import insert_together
    from tokens.services.audit import audit_values

    phone = enroll(user)
    token = Token.objects.get(serial=phone.serial)
    now = timezone.now()

    def challenge():
        return pending_challenge(user, now)

    first = challenge()
    audit = AuditEvent(**audit_values(action="push.create", outcome="info"))
    with CaptureQueriesContext(connection) as queries:
        insert_together(
            [
                [first],
                [ChallengeLink(pushchallenge_id=first.pk, token_id=token.pk)],
                [],
                [audit],
            ]
        )
    expected = 1 if connection.vendor == "postgresql" else 3
    assert len(queries) == expected
    assert list(first.tokens.all()) == [token]
    assert AuditEvent.objects.filter(action="push.create").count() == 1
    # A second pending request for the same application is refused by the
    # constraint: its link and audit row are not written either.
    second = challenge()
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_together(
            [
                [second],
                [ChallengeLink(pushchallenge_id=second.pk, token_id=token.pk)],
                [AuditEvent(**audit_values(action="push.create", outcome="info"))],
            ]
        )
    assert not ChallengeLink.objects.filter(pushchallenge_id=second.pk).exists()
    assert AuditEvent.objects.filter(action="push.create").count() == 1


def test_update_then_insert_makes_its_other_updates_only_after_a_change(user, enroll):
    """A push answered: the challenge's conditional UPDATE, the token's last
    use and the audit row; one statement on PostgreSQL, and nothing at all
    when the first UPDATE finds no row (a second answer)."""

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tokens.models import AuditEvent
    from tokens.prepared import update_then_insert
    from tokens.services.audit import audit_values

    phone = enroll(user)
    token = Token.objects.get(serial=phone.serial)
    Token.objects.filter(pk=token.pk).update(failure_count=3, last_used_at=None)
    now = timezone.now()
    challenge = pending_challenge(user, now)
    challenge.save()

    def answer() -> bool:
        return update_then_insert(
            PushChallenge,
            set_values={"state": "approved", "answered_by": token.pk},
            where={"pk": ("=", challenge.pk), "state": ("=", "pending")},
            also=[
                (
                    Token,
                    {"last_used_at": now, "failure_count": 0},
                    {"pk": ("=", token.pk)},
                )
            ],
            insert=(AuditEvent, audit_values(action="push.answer", outcome="success")),
        )

    with CaptureQueriesContext(connection) as queries:
        assert answer() is True
    statements = [q["sql"] for q in queries if q["sql"] not in ("BEGIN",)]
    assert len(statements) == (1 if connection.vendor == "postgresql" else 3)
    token.refresh_from_db()
    assert (token.failure_count, token.last_used_at) == (0, now)
    Token.objects.filter(pk=token.pk).update(failure_count=2)
    assert answer() is False  # already answered: no update, no row
    token.refresh_from_db()
    assert token.failure_count == 2
    assert AuditEvent.objects.filter(action="push.answer").count() == 1
    challenge.refresh_from_db()
    assert (challenge.state, challenge.answered_by_id) == ("approved", token.pk)
