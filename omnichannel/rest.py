"""The base view and error format shared by the app's REST API.

Every error response is a JSON object with ``detail`` (a translated sentence) and
``code`` (a stable machine-readable string). Validation errors add ``errors``, a dict
of field name to messages. For a batch, it maps the event index to such a dict.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from omnichannel.authentication import (
    APIKeyAuthentication,
    HasScopes,
    IsStaffOrHasScope,
)
from omnichannel.conf import app_settings
from omnichannel.security.ratelimit import ScopedRateThrottle

#: Names for the app's choice sets in the OpenAPI schema. drf-spectacular names an
#: enum after its field: the channels and conversations both have a ``channel``
#: field with different choices, and offers and copy variants a ``kind`` field.
#: Copy these entries into the project's
#: ``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]`` (a settings module cannot import
#: this one); check omnichannel.W131 reports the names that are missing.
ENUM_NAME_OVERRIDES = {
    "MessageChannelEnum": "omnichannel.channels.models.MessageChannel",
    "ConversationChannelEnum": "omnichannel.conversations.models.ConversationChannel",
    "CopyKindEnum": "omnichannel.assistant.copywriting.COPY_KINDS",
}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "request_too_large"
    default_detail = _("The request body is too large.")


def body_too_large() -> RequestTooLarge:
    """Return the API error for a body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return RequestTooLarge(
        _(
            "The request body is larger than the %(limit)d bytes this server "
            "accepts. Send a smaller body."
        )
        % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0}
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render API errors as ``{"detail", "code"[, "errors"]}``."""
    if isinstance(exc, RequestDataTooBig):
        exc = body_too_large()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": str(_("The request has invalid fields; see errors.")),
            "code": "invalid",
            "errors": exc.detail,
        }
        return response
    detail = exc.detail
    code = exc.get_codes() if not isinstance(detail, list | dict) else None
    response.data = {
        "detail": str(detail) if not isinstance(detail, list | dict) else detail,
        "code": code if isinstance(code, str) else exc.default_code,
    }
    return response


ERROR_RESPONSE = inline_serializer(
    "Error",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(
            required=False, help_text="Messages per field (per event index in a batch)."
        ),
    },
)


class OmnichannelAutoSchema(AutoSchema):
    """Document the error responses every view of the API can return."""

    # NOTE: _get_response_bodies is internal to drf-spectacular (0.30); the public
    # get_response_serializers is replaced wholesale by @extend_schema(responses=).
    def _get_response_bodies(self, direction: Any = "response") -> Any:
        bodies = super()._get_response_bodies(direction)
        codes = ["401", "403"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "415"]
        if getattr(self.view, "throttle_classes", None):
            codes += ["429"]
        if "{" in self.path:
            codes += ["404"]
        for code in codes:
            if code not in bodies:
                bodies[code] = self._get_response_for_code(
                    ERROR_RESPONSE, code, direction=direction
                )
        return bodies


class StaffAPIMixin:
    """Staff endpoints: a staff session or an API key with the view's ``api_scope``.

    Keys get the ``api`` rate limit, errors the app's format, and the schema the
    error responses.
    """

    authentication_classes = [APIKeyAuthentication, SessionAuthentication]
    permission_classes = [IsStaffOrHasScope]
    throttle_classes = [ScopedRateThrottle]
    rate_limit_scope = "api"
    api_scope = ""
    schema = OmnichannelAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler


class OmnichannelAPIView(APIView):
    """Base view: API key authentication, scopes, JSON only, the app's errors.

    Subclasses set ``required_scopes`` and may set ``rate_limit_scope`` (a key of
    ``RATE_LIMITS``). The request body is checked against ``API_MAX_REQUEST_BYTES``
    before it is read.
    """

    authentication_classes = [APIKeyAuthentication]
    permission_classes = [HasScopes]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    throttle_classes = [ScopedRateThrottle]
    rate_limit_scope = "api"
    required_scopes: tuple[str, ...] | dict[str, tuple[str, ...]] = ()
    schema = OmnichannelAutoSchema()

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        limit = app_settings.API_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise RequestTooLarge(
                _(
                    "The request body is %(length)d bytes; the limit is %(limit)d. "
                    "Send fewer events per batch."
                )
                % {"length": length, "limit": limit}
            )


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Return the API's JSON 404 for a URL under the API that matches no endpoint
    or has a malformed path parameter (a uuid that is not one)."""
    return JsonResponse(
        {
            "detail": str(
                _("No API endpoint matches this URL; check the path and its ids.")
            ),
            "code": "not_found",
        },
        status=404,
    )
