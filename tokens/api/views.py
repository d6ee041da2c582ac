"""REST doors: relying-party validation and the device protocol.

Thin: validate the body, call one service, shape the answer.
"""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens.addresses import request_ip as client_ip
from tokens.api import serializers as s
from tokens.api.authentication import ApiKeyAuthentication, IsApiClient
from tokens.api.parsers import StrictJSONParser
from tokens.api.throttling import ClientScopedRateThrottle
from tokens.models import PUSH_LIFETIME_MAX
from tokens.services.enrollment import enrollment_activate, token_confirm
from tokens.services.errors import ServiceError
from tokens.services.otp import validate_passcode
from tokens.services.push import device_poll, device_remove, push_answer, push_create
from tokens.services.webpush import webpush_public_key, webpush_subscribe

_ERRORS = {
    400: OpenApiResponse(s.ErrorResponse, description="Invalid request"),
    413: OpenApiResponse(s.ErrorResponse, description="Body too large"),
}
_ANSWER_ERRORS = {
    403: OpenApiResponse(s.ErrorResponse, description="Bad signature or token"),
    404: OpenApiResponse(s.ErrorResponse, description="Unknown challenge"),
    409: OpenApiResponse(s.ErrorResponse, description="Already answered"),
    410: OpenApiResponse(s.ErrorResponse, description="Expired"),
}


class JsonOnly(DefaultContentNegotiation):
    """Every answer is JSON, whatever the Accept header: no negotiation per
    request (DRF's documented ``IgnoreClientContentNegotiation``). Bodies
    are still parsed only when their Content-Type is JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JsonAPIView(APIView):
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers about codes and logins: never stored by a cache on the way.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def body(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ValidateView(JsonAPIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsApiClient]

    @extend_schema(
        summary="Validate a passcode (or server PIN + passcode)",
        description=(
            "Answers `accept` or `reject`. A reject says nothing about whether "
            "the user or a token exists."
        ),
        request=s.ValidateRequest,
        responses={200: s.ValidateResponse, 401: s.ErrorResponse, **_ERRORS},
        tags=["relying party"],
    )
    def post(self, request):
        data = self.body(s.ValidateRequest)
        outcome = validate_passcode(
            username=data["username"],
            passcode=data["passcode"],
            source="api",
            ip=data.get("ip") or client_ip(request),
            client=request.auth.name,
            rp_ip=client_ip(request),
        )
        body = {"result": outcome.result}
        if outcome.accepted and outcome.token is not None:  # not a backup code
            body["serial"] = outcome.token.serial
        return Response(body)


class DeviceView(JsonAPIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [ClientScopedRateThrottle]
    throttle_scope = "device"


class ActivateView(DeviceView):
    @extend_schema(
        summary="Activate a token on a device (PROTOCOL §2)",
        request=s.ActivateRequest,
        responses={200: s.ActivateResponse, **_ERRORS},
        tags=["device"],
    )
    def post(self, request):
        data = self.body(s.ActivateRequest)
        return Response(enrollment_activate(**data, ip=client_ip(request)))


class ConfirmView(DeviceView):
    @extend_schema(
        summary="Confirm an activation (PROTOCOL §3)",
        request=s.ConfirmRequest,
        responses={200: s.ConfirmResponse, **_ERRORS},
        tags=["device"],
    )
    def post(self, request):
        data = self.body(s.ConfirmRequest)
        token = token_confirm(**data, ip=client_ip(request))
        return Response({"state": token.state})


class PushView(JsonAPIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsApiClient]

    @extend_schema(
        summary="Start a push approval",
        description=(
            "Sends a login request to every push-capable device of the user. "
            "Show the returned `number` to the user (number matching), then "
            "wait on `GET /api/v1/auth/push/{id}?wait=25`. Unknown users get "
            "a challenge too, which expires unanswered. 429 while a request "
            "for the same user and application is pending, or for a while "
            "after a denial (push fatigue)."
        ),
        request=s.PushRequest,
        responses={
            201: s.PushCreateResponse,
            401: s.ErrorResponse,
            429: OpenApiResponse(
                s.ErrorResponse, description="push_pending, push_cooldown"
            ),
            **_ERRORS,
        },
        tags=["relying party"],
    )
    def post(self, request):
        data = self.body(s.PushRequest)
        challenge = push_create(
            username=data["username"],
            application=data["application"],
            ip=data.get("ip") or None,
            browser=data["browser"],
            source="api",
            client=request.auth.name,
        )
        return Response(
            {
                "id": str(challenge.pk),
                "state": challenge.state,
                "number": challenge.number,
                # The same bound for every user: the user's own policy (which
                # may end it sooner; the wait says so) is not told.
                "expires": (
                    challenge.created_at + timedelta(seconds=PUSH_LIFETIME_MAX)
                ).isoformat(),
            },
            status=201,
        )


class DeviceAnswerView(DeviceView):
    @extend_schema(
        summary="Answer a push challenge (PROTOCOL §5)",
        description="The same answer a device may send over /ws/device/.",
        request=s.AnswerRequest,
        responses={200: s.AnswerResponse, **_ANSWER_ERRORS, **_ERRORS},
        tags=["device"],
    )
    def post(self, request):
        data = self.body(s.AnswerRequest)
        result = push_answer(
            challenge_id=data["id"],
            serial=data["serial"],
            decision=data["decision"],
            number=data["number"],
            signature=data["signature"],
            otp=data["otp"],
            webauthn=data.get("webauthn"),
            source="device-api",
            ip=client_ip(request),
        )
        return Response(result.as_frame())


class DeviceChallengesView(DeviceView):
    parser_classes = []
    throttle_scope = "device-poll"

    @extend_schema(
        summary="Pending challenges, for a device without a socket (PROTOCOL §4)",
        parameters=[
            OpenApiParameter("X-Tessera-Serial", str, OpenApiParameter.HEADER, True),
            OpenApiParameter(
                "X-Tessera-Time",
                str,
                OpenApiParameter.HEADER,
                True,
                description="Unix seconds, within ±60 s of the server.",
            ),
            OpenApiParameter(
                "X-Tessera-Signature",
                str,
                OpenApiParameter.HEADER,
                True,
                description="b64u sign_D('tessera/v1/poll|' + serial + '|' + time)",
            ),
        ],
        responses={200: s.ChallengesResponse, 403: s.ErrorResponse},
        tags=["device"],
    )
    def get(self, request):
        headers = request.headers
        polled = device_poll(
            serial=headers.get("X-Tessera-Serial"),
            timestamp=headers.get("X-Tessera-Time"),
            signature=headers.get("X-Tessera-Signature"),
            ip=client_ip(request),
        )
        return Response(polled)


class DeviceRemoveView(DeviceView):
    @extend_schema(
        summary="The app deleted its token: revoke it",
        description=(
            "Sent when the user deletes a token from the authenticator. The "
            "token is revoked (audited); repeating it is harmless."
        ),
        request=s.RemoveRequest,
        responses={200: s.RemoveResponse, 403: s.ErrorResponse, **_ERRORS},
        tags=["device"],
    )
    def post(self, request):
        data = self.body(s.RemoveRequest)
        token = device_remove(
            serial=data["serial"],
            timestamp=data["time"],
            signature=data["signature"],
            ip=client_ip(request),
        )
        return Response({"state": token.state})


class DeviceWebPushView(DeviceView):
    @extend_schema(
        summary="The server's VAPID public key (PROTOCOL §6)",
        responses={
            200: s.WebPushKeyResponse,
            404: OpenApiResponse(s.ErrorResponse, description="webpush_off"),
        },
        tags=["device"],
    )
    def get(self, request):
        key = webpush_public_key()
        if key is None:
            raise ServiceError(
                "webpush_off", "Web Push is off on this server.", status=404
            )
        return Response({"public_key": key})

    @extend_schema(
        summary="Register, replace or remove a token's Web Push subscription "
        "(PROTOCOL §6)",
        request=s.WebPushRequest,
        responses={
            200: s.WebPushResponse,
            403: OpenApiResponse(s.ErrorResponse, description="Bad signature or token"),
            404: OpenApiResponse(s.ErrorResponse, description="webpush_off"),
            **_ERRORS,
        },
        tags=["device"],
    )
    def post(self, request):
        data = self.body(s.WebPushRequest)
        return Response({"state": webpush_subscribe(**data, ip=client_ip(request))})
