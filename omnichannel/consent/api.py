"""REST API for consent, double opt-in, inbound SMS keywords and GDPR requests."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.consent.double_opt_in import request_email_opt_in
from omnichannel.consent.gdpr import erase_profile, export_profile
from omnichannel.consent.models import Channel, ConsentRecord, Purpose
from omnichannel.consent.services import consent_state, record_consent
from omnichannel.consent.sms import handle_sms_keyword
from omnichannel.exceptions import InvalidIdentifier, ProfileErased
from omnichannel.profiles.api import ProfileGone, get_live_profile
from omnichannel.profiles.services import identify
from omnichannel.rest import ERROR_RESPONSE, OmnichannelAPIView


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(" + "|".join(Channel.values) + ")$",
        "description": "Consent channel: " + ", ".join(Channel.values) + ".",
    }
)
class ChannelField(serializers.ChoiceField):
    """A consent channel, described by a pattern in the schema.

    The channels app has a ``channel`` field with other choices, and
    drf-spectacular names every enum after its field, so two enums would collide.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Channel.choices, **kwargs)


class _IdentifiedSerializer(serializers.Serializer):
    """A profile given by uuid, email or phone; email and phone create it if new."""

    profile = serializers.UUIDField(required=False)
    email = serializers.CharField(required=False, max_length=254)
    phone = serializers.CharField(required=False, max_length=40)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("profile", "email", "phone") if data.get(name)]
        if not given:
            raise serializers.ValidationError(
                {"profile": [_("Give profile, email or phone.")]}
            )
        if "profile" in given and len(given) > 1:
            raise serializers.ValidationError(
                {"profile": [_("Give either profile or email and phone, not both.")]}
            )
        return data

    def profile_for(self, source: str) -> Any:
        data = self.validated_data
        if data.get("profile"):
            try:
                return get_live_profile(data["profile"])
            except ProfileErased:
                raise ProfileGone() from None
        try:
            return identify(
                email=data.get("email"), phone=data.get("phone"), source=source
            )
        except InvalidIdentifier as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None


class ConsentInputSerializer(_IdentifiedSerializer):
    channel = ChannelField()
    purpose = serializers.ChoiceField(
        choices=Purpose.choices, default=Purpose.MARKETING
    )
    topic = serializers.SlugField(max_length=64, required=False, default="")
    granted = serializers.BooleanField()
    source = serializers.CharField(max_length=64)
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = serializers.CharField(max_length=500, required=False, default="")
    wording_version = serializers.CharField(max_length=64, required=False, default="")
    recorded_at = serializers.DateTimeField(required=False)

    def validate_recorded_at(self, value: Any) -> Any:
        if value > timezone.now():
            raise serializers.ValidationError(_("Must not be in the future."))
        return value


class ConsentRecordSerializer(serializers.ModelSerializer):
    profile = serializers.UUIDField(source="profile.uuid", read_only=True)
    channel = ChannelField(read_only=True)

    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "profile",
            "channel",
            "purpose",
            "topic",
            "granted",
            "recorded_at",
            "source",
            "wording_version",
        ]


class ConsentView(OmnichannelAPIView):
    """Append a grant or withdrawal to the consent ledger, with its proof."""

    required_scopes = ("consent:write",)

    @extend_schema(
        request=ConsentInputSerializer,
        responses={201: ConsentRecordSerializer, 400: ERROR_RESPONSE},
        tags=["consent"],
    )
    def post(self, request: Request) -> Response:
        serializer = ConsentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        profile = serializer.profile_for(source=data["source"])
        try:
            record = record_consent(
                profile,
                data["channel"],
                data["granted"],
                purpose=data["purpose"],
                topic=data["topic"],
                source=data["source"],
                ip_address=data.get("ip_address"),
                user_agent=data["user_agent"],
                wording_version=data["wording_version"],
                at=data.get("recorded_at"),
                proof={"api_key": request.auth.prefix},
            )
        except ProfileErased:
            raise ProfileGone() from None
        return Response(
            ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED
        )


STATE_RESPONSE = inline_serializer(
    "ConsentState",
    {
        "profile": serializers.UUIDField(),
        "purpose": serializers.CharField(),
        "channels": serializers.DictField(
            child=inline_serializer(
                "ChannelConsent",
                {
                    "granted": serializers.BooleanField(),
                    "recorded_at": serializers.DateTimeField(allow_null=True),
                    "source": serializers.CharField(),
                    "topics_opted_out": serializers.ListField(
                        child=serializers.CharField()
                    ),
                },
            )
        ),
    },
)


class ConsentStateView(OmnichannelAPIView):
    """Return the consent in force per channel, derived from the ledger."""

    required_scopes = ("consent:read",)

    @extend_schema(
        responses={200: STATE_RESPONSE, 404: ERROR_RESPONSE}, tags=["consent"]
    )
    def get(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        purpose = request.query_params.get("purpose", Purpose.MARKETING)
        if purpose not in Purpose.values:
            raise exceptions.ValidationError(
                {
                    "purpose": [
                        _("Must be one of %(values)s.") % {"values": Purpose.values}
                    ]
                }
            )
        states = consent_state(profile, purpose=purpose)
        return Response(
            {
                "profile": str(profile.uuid),
                "purpose": purpose,
                "channels": {
                    channel: {
                        "granted": state.granted,
                        "recorded_at": state.record.recorded_at
                        if state.record
                        else None,
                        "source": state.record.source if state.record else "",
                        "topics_opted_out": state.topics_opted_out,
                    }
                    for channel, state in states.items()
                },
            }
        )


class OptInInputSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    topic = serializers.SlugField(max_length=64, required=False, default="")
    source = serializers.CharField(max_length=64)
    wording_version = serializers.CharField(max_length=64)
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = serializers.CharField(max_length=500, required=False, default="")


class OptInView(OmnichannelAPIView):
    """Start an email double opt-in: the customer gets a confirmation link."""

    required_scopes = ("consent:write",)

    @extend_schema(
        request=OptInInputSerializer,
        responses={
            202: inline_serializer(
                "OptInAccepted", {"profile": serializers.UUIDField()}
            ),
            400: ERROR_RESPONSE,
        },
        tags=["consent"],
    )
    def post(self, request: Request) -> Response:
        serializer = OptInInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            profile = identify(email=data["email"], source=data["source"])
        except InvalidIdentifier as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        request_email_opt_in(
            profile,
            topic=data["topic"],
            wording_version=data["wording_version"],
            source=data["source"],
            ip_address=data.get("ip_address"),
            user_agent=data["user_agent"],
        )
        return Response({"profile": str(profile.uuid)}, status=status.HTTP_202_ACCEPTED)


class InboundSMSSerializer(serializers.Serializer):
    sender = serializers.CharField(max_length=40, help_text="The sender's number.")
    text = serializers.CharField(
        max_length=1600, allow_blank=True, trim_whitespace=False
    )
    received_at = serializers.DateTimeField(required=False)


class InboundSMSView(OmnichannelAPIView):
    """Apply STOP and START keywords of an inbound SMS, from any provider.

    Provider-specific webhooks parse their payload and post ``sender``, ``text`` and
    ``received_at`` here, as JSON or a form. ``handled`` is false when the text is
    not a keyword, so the caller can pass it on.
    """

    required_scopes = ("consent:write",)
    rate_limit_scope = "inbound"
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=InboundSMSSerializer,
        responses={
            200: inline_serializer(
                "InboundSMSResult", {"handled": serializers.BooleanField()}
            ),
            400: ERROR_RESPONSE,
        },
        tags=["consent"],
    )
    def post(self, request: Request) -> Response:
        serializer = InboundSMSSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            handled = handle_sms_keyword(
                data["sender"], data["text"], data.get("received_at")
            )
        except InvalidIdentifier as error:
            raise exceptions.ValidationError({"sender": [error.message]}) from None
        return Response({"handled": handled})


class ExportView(OmnichannelAPIView):
    """Return everything held on a profile, as a data-subject access request needs."""

    required_scopes = ("profiles:read",)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: ERROR_RESPONSE},
        tags=["gdpr"],
    )
    def get(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        data = export_profile(
            profile, requested_by=f"api:{request.auth.prefix}", via="api"
        )
        return Response(data)


class EraseView(OmnichannelAPIView):
    """Erase a profile's personal data; the consent proof stays."""

    required_scopes = ("profiles:erase",)

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "ErasureResult",
                {
                    "profile": serializers.UUIDField(),
                    "erased_at": serializers.DateTimeField(),
                },
            ),
            404: ERROR_RESPONSE,
        },
        tags=["gdpr"],
    )
    def post(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        erase_profile(profile, requested_by=f"api:{request.auth.prefix}", via="api")
        profile.refresh_from_db()
        return Response({"profile": str(profile.uuid), "erased_at": profile.erased_at})
