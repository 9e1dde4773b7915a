"""REST API for apps, tills and back ends: identify, events, batches, profiles.

Routed under ``api/`` by ``omnichannel.urls``. Payloads are validated by
``omnichannel.profiles.payloads``; the serializers below describe them in the
OpenAPI schema and render responses.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.exceptions import ProfileErased
from omnichannel.profiles.batch import BatchRejected, store_events
from omnichannel.profiles.models import Event, Preference, Profile
from omnichannel.profiles.payloads import parse_batch, parse_event, parse_identify
from omnichannel.profiles.services import (
    find_profile,
    record_preference,
    resolve_profile,
)
from omnichannel.rest import ERROR_RESPONSE, OmnichannelAPIView


class EventSerializer(serializers.Serializer):
    """One event. Give ``profile`` or at least one identifier."""

    event = serializers.CharField(
        min_length=1,
        max_length=64,
        help_text="A built-in event type or one of EXTRA_EVENT_TYPES.",
    )
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(
        required=False,
        help_text="International form (+44...), or national with "
        "DEFAULT_PHONE_REGION set.",
    )
    visitor_id = serializers.CharField(required=False, max_length=64)
    external_id = serializers.CharField(required=False, max_length=255)
    profile = serializers.UUIDField(required=False)
    properties = serializers.DictField(
        required=False, help_text="A JSON object of at most 32 KiB."
    )
    occurred_at = serializers.DateTimeField(
        required=False, help_text="With a UTC offset; defaults to the time received."
    )
    source = serializers.CharField(required=False, max_length=32, default="api")
    object_type = serializers.CharField(required=False, max_length=64)
    object_id = serializers.CharField(required=False, max_length=64)
    revenue = serializers.DecimalField(
        required=False, max_digits=14, decimal_places=2, coerce_to_string=False
    )
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="An event with a key stored before is skipped as a duplicate.",
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text="1 to API_MAX_BATCH_SIZE events.")


class TraitsSerializer(serializers.Serializer):
    first_name = serializers.CharField(required=False, max_length=150)
    last_name = serializers.CharField(required=False, max_length=150)
    time_zone = serializers.CharField(required=False, help_text="IANA zone name.")
    country = serializers.CharField(required=False, min_length=2, max_length=2)
    language = serializers.CharField(required=False, max_length=16)
    birthday = serializers.DateField(required=False)


class IdentifySerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False)
    visitor_id = serializers.CharField(required=False, max_length=64)
    external_id = serializers.CharField(required=False, max_length=255)
    source = serializers.CharField(required=False, max_length=32, default="api")
    traits = TraitsSerializer(required=False, allow_null=True)


class IdentityOutSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Preference
        fields = ["key", "value", "source", "recorded_at"]
        read_only_fields = ["recorded_at"]


class ProfileSerializer(serializers.ModelSerializer):
    identities = IdentityOutSerializer(many=True, read_only=True)
    preferences = PreferenceSerializer(many=True, read_only=True)

    class Meta:
        model = Profile
        fields = [
            "uuid",
            "email",
            "phone",
            "first_name",
            "last_name",
            "time_zone",
            "country",
            "language",
            "birthday",
            "order_count",
            "total_spent",
            "average_order_value",
            "currency",
            "first_order_at",
            "last_order_at",
            "last_seen_at",
            "created_at",
            "identities",
            "preferences",
        ]


IDENTIFY_RESPONSE = inline_serializer(
    "IdentifyResponse",
    {
        "profile": serializers.UUIDField(),
        "created": serializers.BooleanField(),
        "merged": serializers.ListField(child=serializers.UUIDField()),
        "email": serializers.CharField(),
        "phone": serializers.CharField(),
        "not_attached": serializers.ListField(
            child=inline_serializer(
                "IdentifierNotAttached",
                {
                    "kind": serializers.CharField(),
                    "value": serializers.CharField(),
                    "reason": serializers.CharField(),
                },
            )
        ),
    },
)
NOT_ATTACHED_REASON = (
    "This identifier belongs to another customer, and the two profiles were not "
    "merged because their identities conflict. If they are one person, merge them "
    "in the admin."
)
EVENT_RESPONSE = inline_serializer(
    "EventResponse",
    {
        "stored": serializers.BooleanField(),
        "duplicate": serializers.BooleanField(),
        "event": serializers.IntegerField(),
        "profile": serializers.UUIDField(),
    },
)
BATCH_RESPONSE = inline_serializer(
    "EventBatchResponse",
    {
        "received": serializers.IntegerField(),
        "stored": serializers.IntegerField(),
        "duplicates": serializers.ListField(
            child=serializers.IntegerField(),
            help_text="Indexes of events skipped because their key was stored before.",
        ),
    },
)


def _invalid(errors: dict[str, Any]) -> exceptions.ValidationError:
    return exceptions.ValidationError(errors)


class IdentifyView(OmnichannelAPIView):
    """Resolve identifiers to one profile, creating or merging profiles as needed."""

    required_scopes = ("profiles:write",)
    rate_limit_scope = "identify"

    @extend_schema(
        request=IdentifySerializer,
        responses={
            200: IDENTIFY_RESPONSE,
            201: IDENTIFY_RESPONSE,
            400: ERROR_RESPONSE,
        },
        tags=["profiles"],
    )
    def post(self, request: Request) -> Response:
        payload, errors = parse_identify(request.data)
        if errors or payload is None:
            raise _invalid(errors)
        resolution = resolve_profile(
            payload.identifiers, source=payload.source, traits=payload.traits
        )
        profile = resolution.profile
        merged = Profile.objects.filter(pk__in=resolution.merged).values_list(
            "uuid", flat=True
        )
        return Response(
            {
                "profile": str(profile.uuid),
                "created": resolution.created,
                "merged": [str(value) for value in merged],
                "email": profile.email,
                "phone": profile.phone,
                "not_attached": [
                    {"kind": kind, "value": value, "reason": NOT_ATTACHED_REASON}
                    for kind, value in resolution.not_attached
                ],
            },
            status=status.HTTP_201_CREATED
            if resolution.created
            else status.HTTP_200_OK,
        )


class EventView(OmnichannelAPIView):
    """Store one event."""

    required_scopes = ("events:write",)
    rate_limit_scope = "events"

    @extend_schema(
        request=EventSerializer,
        responses={200: EVENT_RESPONSE, 201: EVENT_RESPONSE, 400: ERROR_RESPONSE},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        item, errors = parse_event(request.data)
        if errors:
            raise _invalid(errors)
        try:
            outcome = store_events([item])
        except BatchRejected as rejected:
            raise _invalid(rejected.errors["0"]) from None
        if outcome.events:
            event = outcome.events[0]
            profile = Profile.objects.get(pk=event.profile_id)
        else:
            event = Event.objects.select_related("profile").get(
                idempotency_key=item.idempotency_key
            )
            profile = event.profile
        return Response(
            {
                "stored": bool(outcome.events),
                "duplicate": bool(outcome.duplicates),
                "event": event.pk,
                "profile": str(profile.uuid),
            },
            status=status.HTTP_201_CREATED if outcome.events else status.HTTP_200_OK,
        )


class EventBatchView(OmnichannelAPIView):
    """Store up to ``API_MAX_BATCH_SIZE`` events, all or nothing.

    Any invalid event rejects the whole batch with HTTP 400 and errors keyed by the
    event's index; nothing is stored. Events whose idempotency key was stored
    before are skipped and listed in ``duplicates``, so resending a batch is safe.
    """

    required_scopes = ("events:write",)
    rate_limit_scope = "events"

    @extend_schema(
        request=EventBatchSerializer,
        responses={200: BATCH_RESPONSE, 400: ERROR_RESPONSE},
        tags=["events"],
    )
    def post(self, request: Request) -> Response:
        items, errors = parse_batch(request.data)
        if errors:
            raise _invalid(errors)
        try:
            outcome = store_events(items)
        except BatchRejected as rejected:
            raise _invalid({"events": rejected.errors}) from None
        return Response(
            {
                "received": len(items),
                "stored": len(outcome.events),
                "duplicates": outcome.duplicates,
            }
        )


def get_live_profile(uuid: Any) -> Profile:
    """Return the profile with this uuid, or the one it was merged into.

    Raises Http404 when none exists and ProfileErased when it was erased.
    """
    profile = find_profile(uuid=uuid)
    if profile is None:
        raise Http404(_("No profile has this uuid."))
    if profile.erased_at is not None:
        raise ProfileErased("erased")
    return profile


class ProfileGone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "profile_erased"
    default_detail = _("This profile was erased on request.")


class ProfileView(OmnichannelAPIView):
    """Read one profile; a merged profile's uuid returns the profile it joined."""

    required_scopes = ("profiles:read",)

    @extend_schema(
        responses={200: ProfileSerializer, 404: ERROR_RESPONSE, 410: ERROR_RESPONSE},
        tags=["profiles"],
    )
    def get(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        return Response(ProfileSerializer(profile).data)


class PreferencesView(OmnichannelAPIView):
    """Read or add a profile's stated interests and preferences (zero-party data)."""

    required_scopes = {"GET": ("profiles:read",), "POST": ("profiles:write",)}

    @extend_schema(responses={200: PreferenceSerializer(many=True)}, tags=["profiles"])
    def get(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        return Response(PreferenceSerializer(profile.preferences.all(), many=True).data)

    @extend_schema(
        request=inline_serializer(
            "PreferencesRequest",
            {
                "source": serializers.CharField(max_length=64),
                "preferences": serializers.ListField(
                    child=inline_serializer(
                        "PreferenceItem",
                        {
                            "key": serializers.SlugField(max_length=64),
                            "value": serializers.CharField(max_length=200),
                        },
                    )
                ),
            },
        ),
        responses={
            201: PreferenceSerializer(many=True),
            400: OpenApiResponse(ERROR_RESPONSE),
        },
        tags=["profiles"],
    )
    def post(self, request: Request, uuid: Any) -> Response:
        try:
            profile = get_live_profile(uuid)
        except ProfileErased:
            raise ProfileGone() from None
        items = _parse_preferences(request.data)
        stored = [
            record_preference(profile, key, value, source=source)
            for key, value, source in items
        ]
        return Response(
            PreferenceSerializer(stored, many=True).data, status=status.HTTP_201_CREATED
        )


class _PreferenceInput(serializers.Serializer):
    key = serializers.RegexField(r"^[a-z0-9_-]{1,64}$", max_length=64)
    value = serializers.CharField(max_length=200, trim_whitespace=True)


class _PreferencesInput(serializers.Serializer):
    source = serializers.CharField(max_length=64)
    preferences = _PreferenceInput(many=True, allow_empty=False, max_length=100)


def _parse_preferences(data: Any) -> list[tuple[str, str, str]]:
    serializer = _PreferencesInput(data=data)
    serializer.is_valid(raise_exception=True)
    source = serializer.validated_data["source"]
    return [
        (item["key"], item["value"], source)
        for item in serializer.validated_data["preferences"]
    ]
