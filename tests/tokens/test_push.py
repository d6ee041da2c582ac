"""The push service: creation, signed answers, fatigue limits, fraud."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from tokens.models import AuditEvent, PushChallenge, Token
from tokens.services.errors import ServiceError
from tokens.services.push import (
    device_authenticate,
    device_poll,
    push_answer,
    push_create,
    push_expire_if_due,
    push_login_complete,
    push_pending_payloads,
)


def create(username="alice", application="VPN", **kw):
    return push_create(username=username, application=application, source="test", **kw)


def submit(frame: dict, **forged):
    """``push_answer`` with a device's answer frame; ``forged`` replaces parts."""
    fields = {
        "challenge_id": frame["id"],
        "serial": frame["serial"],
        "decision": frame["decision"],
        "number": frame["number"],
        "signature": frame["signature"],
        "otp": frame.get("otp"),
        "webauthn": frame.get("webauthn"),
        "source": "test",
    }
    return push_answer(**{**fields, **forged})


def answer(device, challenge, decision="approve", number=None, otp=None):
    """The device answers; approving picks the right number unless told."""
    if number is None and decision == "approve":
        number = challenge.number if challenge.number is not None else ""
    return submit(device.answer_frame(str(challenge.pk), decision, number, otp=otp))


def test_a_push_goes_to_every_active_device_of_the_user(user, enroll):
    phone, tablet = enroll(user), enroll(user)
    challenge = create(ip="203.0.113.7", browser="Firefox on Windows")
    assert set(challenge.tokens.values_list("serial", flat=True)) == {
        phone.serial,
        tablet.serial,
    }
    payloads = push_pending_payloads([phone.serial])
    assert payloads == [
        {
            "type": "challenge",
            "id": str(challenge.pk),
            "serial": phone.serial,
            "application": "VPN",
            "username": "alice",
            "ip": "203.0.113.7",
            "browser": "Firefox on Windows",
            "created": challenge.created_at.isoformat(),
            "expires": challenge.expires_at.isoformat(),
            "numbers": challenge.numbers,
        }
    ]
    assert challenge.number in challenge.numbers and len(set(challenge.numbers)) == 3


def test_without_number_matching_there_are_no_numbers(user, enroll, make_policy):
    enroll(user, make_policy(number_matching=False))
    challenge = create()
    assert challenge.number is None and challenge.numbers == []
    assert (
        "numbers"
        not in push_pending_payloads(
            list(challenge.tokens.values_list("serial", flat=True))
        )[0]
    )


def test_an_unknown_user_gets_a_challenge_nobody_can_answer(db):
    challenge = create(username="nobody")
    assert challenge.state == "pending" and challenge.tokens.count() == 0
    assert challenge.number is not None  # looks like any other


def test_the_right_number_approves_and_the_answer_is_kept(user, enroll):
    device = enroll(user)
    challenge = create()
    result = answer(device, challenge)
    challenge.refresh_from_db()
    assert result.state == challenge.state == "approved"
    assert challenge.answered_by.serial == device.serial
    assert challenge.response_signature
    assert Token.objects.get(serial=device.serial).enrolled_at is not None


def test_a_plain_approval_is_one_statement_with_its_audit_row(user, enroll):
    """After the first approval, an approval (here with the token PIN's
    proof, as the default policy asks) is the look-up and one write: on
    PostgreSQL one statement (answer, token's last use, audit row), so one
    round trip; a replay writes no second success."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    device = enroll(user)
    Token.objects.filter(serial=device.serial).update(failure_count=2)
    answer(device, create())  # the first approval: the PIN's first proof
    assert Token.objects.get(serial=device.serial).enrolled_at is not None
    challenge = create(application="Mail")
    with CaptureQueriesContext(connection) as queries:
        assert answer(device, challenge).state == "approved"
    statements = [q["sql"].split()[0].upper() for q in queries]
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "WITH"], statements
    else:
        assert statements == ["SELECT", "UPDATE", "UPDATE", "INSERT"], statements
    token = Token.objects.get(serial=device.serial)
    assert token.failure_count == 0 and token.last_used_at is not None
    row = AuditEvent.objects.get(
        action="push.answer", detail__challenge=str(challenge.pk)
    )
    assert (row.outcome, row.serial, row.username) == (
        "success",
        device.serial,
        "alice",
    )
    assert row.detail["decision"] == "approve" and row.detail["pin_proof"] is True
    with pytest.raises(ServiceError) as again:
        answer(device, challenge)
    assert again.value.code == "already_answered"
    rows = AuditEvent.objects.filter(
        action="push.answer", detail__challenge=str(challenge.pk)
    )
    assert sorted(r.outcome for r in rows) == ["failure", "success"]


def test_a_first_approval_without_a_pin_is_plain_and_dates_the_enrollment(
    user, enroll, make_policy
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    device = enroll(user, make_policy(pin_mode="none"))
    assert Token.objects.get(serial=device.serial).enrolled_at is None
    challenge = create()
    with CaptureQueriesContext(connection) as queries:
        assert answer(device, challenge).state == "approved"
    if connection.vendor == "postgresql":
        assert [q["sql"].split()[0] for q in queries] == ["SELECT", "WITH"]
    token = Token.objects.get(serial=device.serial)
    assert token.enrolled_at == token.last_used_at is not None


def test_a_wrong_number_denies_the_login(user, enroll):
    device = enroll(user)
    challenge = create()
    wrong = next(n for n in challenge.numbers if n != challenge.number)
    result = answer(device, challenge, number=wrong)
    assert (result.state, result.reason) == ("denied", "wrong_number")
    with pytest.raises(ServiceError) as again:
        answer(device, challenge)  # the right number, too late
    assert again.value.code == "already_answered"
    challenge.refresh_from_db()
    assert challenge.state == "denied"


def test_a_forged_signature_changes_nothing(user, enroll):
    device, other = enroll(user), enroll(user)
    challenge = create()
    frame = device.answer_frame(str(challenge.pk), "approve", challenge.number)
    forged = other.answer_frame(str(challenge.pk), "approve", challenge.number)
    with pytest.raises(ServiceError) as refused:
        submit(frame, signature=forged["signature"])  # signed by another key
    assert refused.value.code == "invalid_signature"
    challenge.refresh_from_db()
    assert challenge.state == "pending"


def test_a_signature_for_another_decision_is_refused(user, enroll):
    device = enroll(user)
    challenge = create()
    deny = device.answer_frame(str(challenge.pk), "deny", "")
    with pytest.raises(ServiceError) as refused:
        submit(deny, decision="approve")
    assert refused.value.code == "invalid_signature"


def test_a_late_answer_is_refused_and_the_challenge_expires(user, enroll):
    device = enroll(user)
    challenge = create()
    PushChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge)
    assert refused.value.code == "expired"
    challenge.refresh_from_db()
    assert challenge.state == "expired"


def test_a_token_the_push_did_not_go_to_cannot_answer(user, enroll):
    device = enroll(user)
    challenge = create()
    stranger = enroll(get_user_model().objects.create_user("mallory", password="x"))
    frame = stranger.answer_frame(str(challenge.pk), "approve", challenge.number)
    with pytest.raises(ServiceError) as refused:
        submit(frame)
    assert refused.value.code == "unknown_challenge"
    assert answer(device, challenge).state == "approved"


def test_malformed_answers_are_refused_with_a_reason(user, enroll):
    device = enroll(user)
    challenge = create()
    for bad in (
        {"challenge_id": "not-a-uuid"},
        {"challenge_id": 12},
        {"decision": "maybe"},
        {"number": "42"},
        {"number": True},
        {"number": -1},
    ):
        kw = {
            "challenge_id": str(challenge.pk),
            "serial": device.serial,
            "decision": "approve",
            "number": challenge.number,
            "signature": "x",
            "source": "test",
            **bad,
        }
        with pytest.raises(ServiceError) as refused:
            push_answer(**kw)
        assert refused.value.code == "invalid_request", bad


def test_one_pending_push_per_user_and_application(user, enroll):
    enroll(user)
    create()
    with pytest.raises(ServiceError) as refused:
        create()
    assert (refused.value.code, refused.value.status) == ("push_pending", 429)
    create(application="Mail")  # another application may ask


def test_an_expired_push_does_not_block_the_next(user, enroll):
    enroll(user)
    first = create()
    PushChallenge.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    create()
    first.refresh_from_db()
    assert first.state == "expired"


def test_a_denial_starts_a_cooldown(user, enroll, make_policy):
    device = enroll(user, make_policy(push_deny_cooldown_seconds=60))
    answer(device, create(), decision="deny")
    with pytest.raises(ServiceError) as refused:
        create()
    assert refused.value.code == "push_cooldown"
    PushChallenge.objects.update(answered_at=timezone.now() - timedelta(seconds=61))
    create()


def test_fraud_locks_the_tokens_audits_and_emails(
    user, enroll, django_capture_on_commit_callbacks
):
    device, other = enroll(user), enroll(user)
    challenge = create(ip="198.51.100.9")
    with django_capture_on_commit_callbacks(execute=True):
        result = answer(
            device, challenge, decision="fraud", number="", otp=device.code()
        )
    assert (result.state, result.reason) == ("denied", "fraud")
    assert set(Token.objects.filter(user=user).values_list("state", flat=True)) == {
        "locked"
    }
    assert AuditEvent.objects.filter(action="push.fraud", username="alice").exists()
    [message] = [m for m in mail.outbox if "did not start" in m.subject]
    assert "198.51.100.9" in message.body and other.serial in message.body


def test_a_fraud_report_without_the_pin_proof_locks_nothing(user, enroll):
    """A copy of the phone's storage can sign answers but not prove the token
    PIN: it must not lock the user's tokens with "This wasn't me"."""
    device = enroll(user)  # the default policy has a token PIN
    challenge = create()
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge, decision="fraud", number="", otp="")
    assert refused.value.code == "proof_required"
    assert set(Token.objects.filter(user=user).values_list("state", flat=True)) == {
        "active"
    }
    challenge.refresh_from_db()
    assert challenge.state == "pending"
    assert not AuditEvent.objects.filter(action="push.fraud").exists()


def test_fraud_does_not_lock_when_the_policy_says_not_to(
    user, enroll, make_policy, django_capture_on_commit_callbacks
):
    device = enroll(user, make_policy(push_fraud_lock=False))
    with django_capture_on_commit_callbacks(execute=True):
        answer(device, create(), decision="fraud", number="", otp=device.code())
    assert Token.objects.get(serial=device.serial).state == "active"
    assert any("did not start" in m.subject for m in mail.outbox)


def test_an_approval_completes_one_login_only(user, enroll):
    device = enroll(user)
    challenge = create()
    answer(device, challenge)
    token = push_login_complete(challenge_id=challenge.pk, username="alice")
    assert token.serial == device.serial
    assert push_login_complete(challenge_id=challenge.pk, username="alice") is None


def test_a_denied_push_completes_no_login(user, enroll):
    device = enroll(user)
    challenge = create()
    answer(device, challenge, decision="deny", number="")
    assert push_login_complete(challenge_id=challenge.pk, username="alice") is None


def test_expiry_is_applied_when_read(user, enroll):
    enroll(user)
    challenge = create()
    assert push_expire_if_due(challenge.pk) == "pending"
    PushChallenge.objects.filter(pk=challenge.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert push_expire_if_due(challenge.pk) == "expired"
    assert (
        push_pending_payloads(list(challenge.tokens.values_list("serial", flat=True)))
        == []
    )


def test_device_authentication_needs_the_device_key(user, enroll):
    device, other = enroll(user), enroll(user)
    nonce = "n0nce"
    assert (
        device_authenticate(
            serial=device.serial,
            nonce=nonce,
            signature=device.auth_frame(nonce)["signature"],
        ).serial
        == device.serial
    )
    for serial, signature in (
        (device.serial, other.auth_frame(nonce)["signature"]),
        (device.serial, device.auth_frame("another nonce")["signature"]),
        ("TSR-0000-0000", device.auth_frame(nonce)["signature"]),
        (device.serial, "!!"),
        (None, None),
    ):
        with pytest.raises(ServiceError):
            device_authenticate(serial=serial, nonce=nonce, signature=signature)


def test_the_signed_poll_lists_pending_challenges(user, enroll):
    device = enroll(user)
    challenge = create()
    headers = device.poll_headers()
    got = device_poll(
        serial=headers["X-Tessera-Serial"],
        timestamp=headers["X-Tessera-Time"],
        signature=headers["X-Tessera-Signature"],
    )
    assert [c["id"] for c in got["challenges"]] == [str(challenge.pk)]
    assert got["token"]["type"] == "token.info" and got["token"]["state"] == "active"
    stale = device.poll_headers(now=timezone.now().timestamp() - 120)
    with pytest.raises(ServiceError):
        device_poll(
            serial=stale["X-Tessera-Serial"],
            timestamp=stale["X-Tessera-Time"],
            signature=stale["X-Tessera-Signature"],
        )


def test_a_deactivated_user_cannot_approve_or_log_in(user, enroll):
    device = enroll(user)
    challenge = create()
    user.is_active = False
    user.save()
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge)
    assert refused.value.code == "token_unusable"
    PushChallenge.objects.filter(pk=challenge.pk).update(state="approved")
    assert push_login_complete(challenge_id=challenge.pk, username="alice") is None


def test_a_version_2_answer_proves_the_pin_with_a_code(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="token"))
    challenge = create()
    assert answer(device, challenge, otp=device.code()).state == "approved"
    assert Token.objects.get(serial=device.serial).push_proof is True


def test_a_wrong_pin_proof_is_refused_and_counted(user, enroll, make_policy):
    # A wrong token PIN opens a plausible wrong seed: its codes do not match.
    device = enroll(user, make_policy(pin_mode="token", lockout_threshold=2))
    challenge = create()
    wrong = f"{(int(device.code()) + 1) % 10**6:06d}"
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge, otp=wrong)
    assert refused.value.code == "wrong_pin"
    challenge.refresh_from_db()
    assert challenge.state == "pending"  # the user may type the PIN again
    assert Token.objects.get(serial=device.serial).failure_count == 1
    with pytest.raises(ServiceError):
        answer(device, challenge, otp=wrong)
    assert Token.objects.get(serial=device.serial).state == "locked"


def test_after_a_proof_version_1_approvals_are_refused(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="none"))
    answer(device, create(), otp=device.code())
    with pytest.raises(ServiceError) as refused:
        answer(device, create(application="Mail"), otp="")
    assert refused.value.code == "proof_required"
    # Denying needs no proof.
    assert answer(device, create(application="Wiki"), "deny").state == "denied"


def test_a_proof_signed_for_another_code_is_refused(user, enroll, make_policy):
    device = enroll(user, make_policy(pin_mode="token"))
    challenge = create()
    frame = device.answer_frame(
        str(challenge.pk), "approve", challenge.number, otp="111111"
    )
    with pytest.raises(ServiceError) as refused:
        submit(frame, otp=device.code())  # not what was signed
    assert refused.value.code == "invalid_signature"


def test_a_token_pin_token_must_prove_its_pin_from_its_first_approval(
    user, enroll, make_policy
):
    """A thief with a copy of the phone's storage can sign a version 1 answer
    without the PIN: the policy says token PIN, so the server wants the proof."""
    device = enroll(user, make_policy(pin_mode="token"))
    challenge = create()
    with pytest.raises(ServiceError) as refused:
        answer(device, challenge, otp="")
    assert refused.value.code == "proof_required"
    assert "PIN" in refused.value.detail
    challenge.refresh_from_db()
    assert challenge.state == "pending"
    assert answer(device, challenge).state == "approved"  # version 2


def test_a_token_without_a_pin_may_still_answer_with_version_1(
    user, enroll, make_policy
):
    device = enroll(user, make_policy(pin_mode="none"))
    assert answer(device, create(), otp="").state == "approved"


@pytest.mark.parametrize(
    "spelling",
    ["okta", "Okta\u200b", " OKTA ", "Ｏｋｔａ", "O\u200dk\u2060ta", "OKTA\n"],
)
def test_push_fatigue_sees_through_spelling(user, enroll, spelling):
    enroll(user)
    create(application="Okta")
    with pytest.raises(ServiceError) as refused:
        create(application=spelling)
    assert refused.value.code == "push_pending"
    event = AuditEvent.objects.filter(action="push.refused").latest("id")
    assert event.detail["reason"] == "push_pending"


def test_a_denial_cools_down_every_spelling(user, enroll):
    device = enroll(user)
    answer(device, create(application="Okta"), "deny")
    with pytest.raises(ServiceError) as refused:
        create(application="oKTA\u200b")
    assert refused.value.code == "push_cooldown"
    assert create(application="Mail").state == "pending"


def test_pending_pushes_are_capped_per_user_across_applications(user, enroll):
    enroll(user)
    for name in ("VPN", "Mail", "Wiki"):
        create(application=name)
    with pytest.raises(ServiceError) as refused:
        create(application="Chat")
    assert refused.value.code == "push_pending_limit"
    assert PushChallenge.objects.filter(state="pending").count() == 3
    assert AuditEvent.objects.filter(
        action="push.refused", detail__reason="push_pending_limit"
    ).exists()


def test_approvals_record_the_protocol_version_and_the_proofs(
    user, enroll, make_policy
):
    pinned = enroll(user, make_policy(pin_mode="token"))
    answer(pinned, create())
    plain = enroll(user, make_policy(pin_mode="none"))
    answer(plain, create(application="Mail"), otp="")
    records = AuditEvent.objects.filter(action="push.answer", outcome="success")
    seen = {e.serial: e.detail for e in records}
    assert (seen[pinned.serial]["version"], seen[pinned.serial]["pin_proof"]) == (
        2,
        True,
    )
    assert (seen[plain.serial]["version"], seen[plain.serial]["pin_proof"]) == (
        1,
        False,
    )
    assert seen[plain.serial]["webauthn"] is False


def test_the_first_approval_dates_the_enrollment_and_later_ones_keep_it(user, enroll):
    device = enroll(user)
    Token.objects.filter(serial=device.serial).update(enrolled_at=None)
    answer(device, create())
    first = Token.objects.get(serial=device.serial)
    assert first.enrolled_at is not None and first.last_used_at is not None
    Token.objects.filter(pk=first.pk).update(failure_count=3)
    answer(device, create(application="Mail"))
    later = Token.objects.get(serial=device.serial)
    assert later.enrolled_at == first.enrolled_at
    assert later.last_used_at >= first.last_used_at and later.failure_count == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_answers_at_once_decide_once(user, enroll):
    """Ten approvals and ten denials of one request on twenty connections:
    one decides, the others are told it was answered; one success or
    decision row in the audit, nineteen refusals."""
    import threading

    from django.db import connection

    device = enroll(user)
    answer(device, create())  # the first approval: the PIN's first proof
    challenge = create(application="Mail")
    frames = [
        device.answer_frame(
            str(challenge.pk),
            decision,
            challenge.number if decision == "approve" else "",
        )
        for decision in ["approve", "deny"] * 10
    ]
    outcomes, barrier = [], threading.Barrier(20)

    def attempt(frame):
        try:
            barrier.wait()
            outcomes.append(submit(frame).state)
        except ServiceError as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()  # this thread's

    threads = [threading.Thread(target=attempt, args=(f,)) for f in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    decided = [o for o in outcomes if o in ("approved", "denied")]
    assert len(decided) == 1 and outcomes.count("already_answered") == 19, outcomes
    challenge.refresh_from_db()
    assert challenge.state == decided[0]
    rows = AuditEvent.objects.filter(
        action="push.answer", detail__challenge=str(challenge.pk)
    )
    assert sorted(r.outcome for r in rows).count("failure") == 19
    assert rows.exclude(outcome="failure").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twelve_creates_at_once_for_one_user_respect_the_cap(user, enroll):
    """Twelve applications ask at once: the user's row is locked with the
    look-up of their tokens, so no more than MAX_PENDING_PER_USER wait."""
    import threading

    from django.db import connection

    from tokens.services.push.challenges import MAX_PENDING_PER_USER

    enroll(user)
    outcomes, barrier = [], threading.Barrier(12)

    def attempt(n):
        try:
            barrier.wait()
            outcomes.append(create(application=f"App {n}").state)
        except ServiceError as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()  # this thread's

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("pending") == MAX_PENDING_PER_USER, outcomes
    assert outcomes.count("push_pending_limit") == 12 - MAX_PENDING_PER_USER
    assert PushChallenge.objects.filter(state="pending").count() == MAX_PENDING_PER_USER


@pytest.mark.django_db(transaction=True)
def test_a_create_waits_while_another_holds_the_users_row(user, enroll):
    """The cap's lock itself (PostgreSQL: SQLite's writer lock queues
    creates anyway): a create for a user whose row another transaction holds
    waits for it, then counts what that one wrote."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    enroll(user)
    done = []

    def second():
        try:
            done.append(create(application="Mail").state)
        finally:
            connection.close()  # this thread's

    with transaction.atomic(), connection.cursor() as cursor:
        # Weaker than the create's own lock, so the challenge's foreign key
        # (KEY SHARE) would not wait on it: only the create's lock does.
        table = get_user_model()._meta.db_table
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE id = %s FOR NO KEY UPDATE",  # noqa: S608
            [user.pk],
        )
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=1.5)
        assert waiting.is_alive() and not done  # queued on the user's row
    waiting.join(timeout=10)
    assert done == ["pending"]


def test_a_create_is_three_statements(user, enroll):
    """The tokens (locking the user's row), the recent requests, and the
    challenge with its links and audit row (one statement on PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    enroll(user)
    with CaptureQueriesContext(connection) as queries:
        create()
    statements = [
        q["sql"].split()[0]
        for q in queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "SELECT", "WITH"], statements
        assert (
            "FOR UPDATE OF" in queries[1]["sql"] or "FOR UPDATE OF" in queries[0]["sql"]
        )
    else:
        assert statements == ["SELECT", "SELECT", "INSERT", "INSERT", "INSERT"]
