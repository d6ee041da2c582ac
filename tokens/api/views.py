"""REST doors: relying-party validation and the device protocol.

Thin: validate the body, call one service, shape the answer.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tokens.api import serializers as s
from tokens.api.authentication import ApiKeyAuthentication, IsApiClient
from tokens.api.parsers import StrictJSONParser
from tokens.services.enrollment import enrollment_activate, token_confirm
from tokens.services.otp import validate_passcode

_ERRORS = {
    400: OpenApiResponse(s.ErrorResponse, description="Invalid request"),
    413: OpenApiResponse(s.ErrorResponse, description="Body too large"),
}


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class JsonAPIView(APIView):
    parser_classes = [StrictJSONParser]

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
        )
        body = {"result": outcome.result}
        if outcome.accepted:
            body["serial"] = outcome.token.serial
        return Response(body)


class DeviceView(JsonAPIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [ScopedRateThrottle]
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
