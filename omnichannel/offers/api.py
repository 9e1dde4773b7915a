"""REST API of offers for the mobile app and the site's own scripts.

The customer is the user the request is authenticated as (by the project's DRF
authentication, such as a session or a token) or, for an anonymous visitor, the
profile behind the visitor cookie. Staff may name another customer by profile uuid, as a
till or the agent console does. Errors are ``{"detail": sentence, "code": reason}``.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omnichannel.exceptions import OfferCodeRejected
from omnichannel.offers import ratelimit
from omnichannel.offers.services import check_code, live_profile, mark_seen
from omnichannel.offers.status import build_status, offer_status, offer_statuses
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import profile_for_request
from omnichannel.rest import exception_handler

logger = logging.getLogger(__name__)


class OfferStatusSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["free_shipping", "percent", "amount", "gift"]
    )
    value = serializers.CharField(help_text="Percent or amount as a decimal string.")
    currency = serializers.CharField()
    gift = serializers.CharField()
    code = serializers.CharField()
    state = serializers.ChoiceField(choices=["issued", "seen", "claimed", "expired"])
    issued_at = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)
    seen_at = serializers.DateTimeField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    order_id = serializers.CharField()
    claim_channel = serializers.CharField()


class OfferCodeCheckSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, trim_whitespace=True)
    profile = serializers.UUIDField(
        required=False, help_text="Staff only: check the code for this customer."
    )


ERROR_RESPONSE = inline_serializer(
    "OfferError", {"detail": serializers.CharField(), "code": serializers.CharField()}
)


def _error(detail: Any, code: str, http_status: int) -> Response:
    return Response({"detail": str(detail), "code": code}, status=http_status)


class OfferAPIView(APIView):
    """Base view: the project's DRF authentication, anonymous visitors allowed."""

    permission_classes = [permissions.AllowAny]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def customer(self, request: Request, uuid: Any = None) -> Profile | None:
        """Return the customer the request acts for.

        Raises PermissionDenied when a non-staff request names a profile.
        """
        if uuid is None or uuid == "":
            return profile_for_request(request)
        if not (request.user and request.user.is_staff):
            raise exceptions.PermissionDenied(
                _("Only staff may act for another customer; leave out 'profile'.")
            )
        try:
            uuid = uuid if isinstance(uuid, UUID) else UUID(str(uuid))
        except ValueError:
            raise exceptions.ValidationError(
                {"profile": [_("%(value)s is not a profile uuid.") % {"value": uuid}]}
            ) from None
        profile = Profile.objects.filter(uuid=uuid).first()
        if profile is None:
            raise exceptions.NotFound(_("No profile has this uuid."))
        return live_profile(profile)


class MyOffersView(OfferAPIView):
    """List the customer's offers with their codes and states, newest first."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "OfferList", {"offers": OfferStatusSerializer(many=True)}
            )
        },
        operation_id="api_offers_list",
        tags=["offers"],
    )
    def get(self, request: Request) -> Response:
        profile = self.customer(request, request.query_params.get("profile"))
        open_only = request.query_params.get("open") in ("1", "true", "yes")
        statuses = offer_statuses(profile, open_only=open_only)
        return Response({"offers": [status.as_dict() for status in statuses]})


class MyOfferView(OfferAPIView):
    """Read the customer's code and state for one offer."""

    @extend_schema(
        responses={200: OfferStatusSerializer, 404: ERROR_RESPONSE},
        operation_id="api_offers_retrieve",
        tags=["offers"],
    )
    def get(self, request: Request, slug: str) -> Response:
        profile = self.customer(request, request.query_params.get("profile"))
        found = offer_status(profile, slug)
        if found is None:
            return _error(
                _("You have no code for the offer “%(slug)s”.") % {"slug": slug},
                "not_issued",
                status.HTTP_404_NOT_FOUND,
            )
        return Response(found.as_dict())


class OfferSeenView(OfferAPIView):
    """Record that the app or page showed the customer their code."""

    @extend_schema(
        request=None,
        responses={200: OfferStatusSerializer, 404: ERROR_RESPONSE},
        tags=["offers"],
    )
    def post(self, request: Request, slug: str) -> Response:
        profile = self.customer(request, request.data.get("profile"))
        found = offer_status(profile, slug)
        if found is None:
            return _error(
                _("You have no code for the offer “%(slug)s”.") % {"slug": slug},
                "not_issued",
                status.HTTP_404_NOT_FOUND,
            )
        from omnichannel.offers.models import CustomerOffer

        customer_offer = CustomerOffer.objects.select_related("offer").get(
            pk=found.customer_offer_id
        )
        mark_seen(customer_offer, channel=str(request.data.get("channel", "api")))
        return Response(build_status(customer_offer).as_dict())


class CodeCheckView(OfferAPIView):
    """Check whether the customer may use a code now; nothing is changed.

    Limited per IP address and per customer (``OFFER_CODE_CHECKS_PER_IP`` and
    ``OFFER_CODE_CHECKS_PER_PROFILE`` per ``OFFER_CODE_CHECK_WINDOW``); over the
    limit the response is 429 with ``Retry-After``.
    """

    @extend_schema(
        request=OfferCodeCheckSerializer,
        responses={
            200: inline_serializer(
                "CodeCheck",
                {"valid": serializers.BooleanField(), "offer": OfferStatusSerializer()},
            ),
            400: OpenApiResponse(description="Invalid fields."),
            403: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
            409: ERROR_RESPONSE,
            410: ERROR_RESPONSE,
            429: ERROR_RESPONSE,
        },
        tags=["offers"],
    )
    def post(self, request: Request) -> Response:
        serializer = OfferCodeCheckSerializer(data=request.data)
        if not serializer.is_valid():
            return Response(
                {
                    "detail": str(_("The request has invalid fields; see errors.")),
                    "code": "invalid",
                    "errors": serializer.errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        profile = self.customer(request, serializer.validated_data.get("profile"))
        limited = ratelimit.hit(
            request.META.get("REMOTE_ADDR", ""), profile.pk if profile else None
        )
        if limited is not None:
            response = _error(
                _("Too many code checks. Try again in %(seconds)d seconds.")
                % {"seconds": limited.retry_after},
                "rate_limited",
                status.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(limited.retry_after)
            return response
        try:
            customer_offer = check_code(serializer.validated_data["code"], profile)
        except OfferCodeRejected as rejected:
            return _error(rejected.message, rejected.reason, rejected.status_code)
        return Response(
            {"valid": True, "offer": build_status(customer_offer).as_dict()}
        )
