"""Shapes of API bodies. Validation of form only; rules live in services."""

from __future__ import annotations

import threading

from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# Per thread: serializer class -> its fields, built and bound once.
_fields_by_thread = threading.local()


class StrictSerializer(serializers.Serializer):
    """Refuses unknown fields and numbers where text is expected.

    DRF would quietly turn ``12345`` into ``"12345"`` and ignore a misspelt
    field; a security API should say the request is wrong instead.

    DRF deep-copies every declared field for every serializer it makes (so
    an instance may change its own fields): on the validation endpoint that
    copy was the largest single cost of a request (0.6 ms, more than the
    database work). Request bodies here never change their fields and have
    no context, so each thread builds a class's fields once and every later
    instance on that thread reads them. Fields keep no state between
    validations; they are bound to a blank instance of the class (their
    ``root``), never to a request's. A partial or contextual serializer
    gets its own copy, as in DRF.
    """

    @cached_property
    def fields(self):
        if self.partial or self._context:
            return serializers.Serializer.fields.func(self)
        cache = getattr(_fields_by_thread, "cache", None)
        if cache is None:
            cache = _fields_by_thread.cache = {}
        cls = type(self)
        fields = cache.get(cls)
        if fields is None:
            blank = cls()
            fields = cache[cls] = serializers.Serializer.fields.func(blank)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            wrong = {
                name: ["Must be a string."]
                for name, f in self.fields.items()
                if isinstance(f, serializers.CharField)
                and name in data
                and not isinstance(data[name], str)
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError(
                f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."
            )
        return attrs


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 0, "maximum": 99},
            {"type": "string", "enum": [""]},
        ],
        "nullable": True,
    }
)
class NumberPicked(serializers.JSONField):
    """The number an answer picked: a whole number, or "" / null for none
    (the service checks it; the schema says what it takes)."""


@extend_schema_field(
    {
        "type": "object",
        "description": "A PublicKeyCredential as toJSON() gives it (PROTOCOL §7).",
        "additionalProperties": True,
    }
)
class WebAuthnCredential(serializers.JSONField):
    """A WebAuthn credential or assertion (PROTOCOL §7); py_webauthn checks it."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be an object.")
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
)
class AddressField(serializers.IPAddressField):
    """An IPv4 or IPv6 address, documented as such."""


def username_field():
    """A username as a relying party sends it: 1 to 150 characters, no NUL."""
    return serializers.RegexField(
        r"^[^\x00]+$", min_length=1, max_length=150, trim_whitespace=False
    )


class ValidateRequest(StrictSerializer):
    username = username_field()
    passcode = serializers.RegexField(
        r"^[A-Za-z0-9]{6,24}$",
        max_length=24,
        error_messages={"invalid": "A passcode is 6 to 24 letters or digits."},
    )
    ip = AddressField(required=False, help_text="The end user's IP.")


class ValidateResponse(serializers.Serializer):
    result = serializers.ChoiceField(choices=["accept", "reject"])
    serial = serializers.CharField(required=False)


class ErrorResponse(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()


class ActivateRequest(StrictSerializer):
    activation = serializers.CharField(min_length=1, max_length=120)
    ecdh_public_key = serializers.CharField(min_length=1, max_length=100)
    device_public_key = serializers.CharField(min_length=1, max_length=100)
    device_name = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    platform = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )


class ActivateResponse(serializers.Serializer):
    serial = serializers.CharField()
    label = serializers.CharField()
    server_ecdh_public_key = serializers.CharField()
    otp = serializers.DictField()
    policy = serializers.DictField()


class ConfirmRequest(StrictSerializer):
    serial = serializers.CharField(min_length=1, max_length=16)
    otp = serializers.RegexField(r"^[0-9]{6,8}$", max_length=8)
    server_pin = serializers.CharField(
        max_length=16,
        allow_blank=True,
        required=False,
        default="",
        trim_whitespace=False,
    )
    signature = serializers.CharField(min_length=1, max_length=100)
    webauthn = WebAuthnCredential(
        required=False,
        help_text="user_verification required: the platform credential made "
        "over SHA-256('tessera/v1/uv-register|' + serial + '|' + otp).",
    )


class ConfirmResponse(serializers.Serializer):
    state = serializers.CharField()


class PushRequest(StrictSerializer):
    username = username_field()
    application = serializers.RegexField(
        r"^[^\x00]*[^\x00\s][^\x00]*$",
        max_length=80,
        help_text="Shown on the phone: what the user is logging in to (not blank).",
    )
    ip = AddressField(
        required=False, help_text="The end user's IP, shown on the phone."
    )
    browser = serializers.RegexField(
        r"^[^\x00]*$",
        max_length=120,
        required=False,
        allow_blank=True,
        default="",
        help_text='Shown on the phone, e.g. "Firefox on Windows".',
    )


class PushCreateResponse(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=["pending"])
    number = serializers.IntegerField(
        allow_null=True,
        help_text="Show it to the user, who picks it on the phone (null: no "
        "number matching).",
    )
    expires = serializers.DateTimeField(
        help_text="The latest the request can be answered: one bound for every "
        "user (the user's policy may end it sooner; waiting tells the outcome)."
    )


class AnswerRequest(StrictSerializer):
    type = serializers.ChoiceField(choices=["answer"], required=False)
    id = serializers.RegexField(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        max_length=36,
        help_text="The challenge's id (a UUID).",
    )
    serial = serializers.CharField(min_length=1, max_length=16)
    decision = serializers.ChoiceField(choices=["approve", "deny", "fraud"])
    number = NumberPicked(
        required=False,
        default=None,
        allow_null=True,
        help_text='The number picked, or "" / null without number matching.',
    )
    signature = serializers.CharField(min_length=1, max_length=100)
    otp = serializers.RegexField(
        r"^[0-9]{6,8}$",
        max_length=8,
        required=False,
        allow_blank=True,
        default="",
        help_text="Version 2: a current code of the token, proving its PIN; "
        "signed as 'tessera/v2/answer|id|decision|number|otp'.",
    )
    webauthn = WebAuthnCredential(
        required=False,
        help_text="user_verification required: an assertion over SHA-256 of "
        "the signed text (approvals only).",
    )


class AnswerResponse(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=["approved", "denied"])
    reason = serializers.CharField(required=False)


class ChallengeMessage(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.UUIDField()
    serial = serializers.CharField()
    application = serializers.CharField()
    username = serializers.CharField()
    ip = serializers.CharField()
    browser = serializers.CharField()
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField()
    numbers = serializers.ListField(child=serializers.IntegerField(), required=False)


class RemoveRequest(StrictSerializer):
    serial = serializers.CharField(min_length=1, max_length=16)
    time = serializers.RegexField(
        r"^[0-9]{1,12}$", help_text="Unix seconds, within ±60 s of the server."
    )
    signature = serializers.CharField(
        min_length=1,
        max_length=200,
        help_text="b64u sign_D('tessera/v1/remove|' + serial + '|' + time)",
    )


class RemoveResponse(serializers.Serializer):
    state = serializers.ChoiceField(choices=["revoked"])


class TokenInfoMessage(serializers.Serializer):
    type = serializers.ChoiceField(choices=["token.info"])
    serial = serializers.CharField()
    issuer = serializers.CharField()
    account = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(
        choices=["active", "suspended", "locked", "revoked"]
    )
    time = serializers.IntegerField(help_text="Unix seconds when it was signed.")
    signature = serializers.CharField(
        help_text="b64u HMAC-SHA256(info key, 'tessera/v1/info|' + "
        "JSON([serial, issuer, account, name, state, time]))"
    )


class ChallengesResponse(serializers.Serializer):
    challenges = ChallengeMessage(many=True)
    token = TokenInfoMessage(
        required=False, help_text="The token as the server knows it (signed)."
    )


class WebPushRequest(StrictSerializer):
    serial = serializers.CharField(min_length=1, max_length=16)
    endpoint = serializers.CharField(
        max_length=1024,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The subscription's endpoint on a known push service (https); "
        "empty to unsubscribe.",
    )
    p256dh = serializers.CharField(
        max_length=100,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The subscription's P-256 key (b64u); empty to unsubscribe.",
    )
    auth = serializers.CharField(
        max_length=32,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The subscription's 16-byte auth secret (b64u); empty to "
        "unsubscribe.",
    )
    signature = serializers.CharField(
        min_length=1,
        max_length=100,
        help_text="b64u sign_D('tessera/v1/webpush|' + serial + '|' + endpoint + "
        "'|' + p256dh + '|' + auth)",
    )


class WebPushResponse(serializers.Serializer):
    state = serializers.ChoiceField(choices=["subscribed", "unsubscribed"])


class WebPushKeyResponse(serializers.Serializer):
    public_key = serializers.CharField(help_text="The VAPID public key (b64u).")
