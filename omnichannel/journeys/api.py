"""REST API of journeys: enroll a customer in a journey triggered by the API.

Routed under ``api/`` by ``omnichannel.urls``; the key needs ``journeys:enroll``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.exceptions import (
    EnrollmentRefused,
    InvalidIdentifier,
    JourneyNotFound,
    ProfileNotFound,
)
from omnichannel.journeys.models import Enrollment
from omnichannel.rest import ERROR_RESPONSE, OmnichannelAPIView


class EnrollmentRequestSerializer(serializers.Serializer):
    """Whom to enroll: ``profile`` (uuid), or ``email`` or ``phone``."""

    profile = serializers.UUIDField(required=False)
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(
        required=False,
        max_length=32,
        help_text="International form (+44...), or national with "
        "DEFAULT_PHONE_REGION set.",
    )
    data = serializers.DictField(
        required=False,
        help_text="A JSON object of at most 32 KiB, kept on the run and offered "
        "to its messages as {{ data }}.",
    )
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="A repeated key returns the run it started instead of a new one.",
    )
    object_type = serializers.CharField(required=False, max_length=64, default="")
    object_id = serializers.CharField(required=False, max_length=64, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [
                        _("Unknown field; the fields are %(fields)s.")
                        % {"fields": ", ".join(self.fields)}
                    ]
                    for name in unknown
                }
            )
        given = [name for name in ("profile", "email", "phone") if attrs.get(name)]
        if not given:
            raise serializers.ValidationError(
                {"profile": [_("Give the profile uuid, an email or a phone number.")]}
            )
        if len(given) > 1:
            raise serializers.ValidationError(
                {
                    given[1]: [
                        _("Give only one of profile, email and phone; got %(names)s.")
                        % {"names": ", ".join(given)}
                    ]
                }
            )
        return attrs


class EnrollmentSerializer(serializers.ModelSerializer):
    journey = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    profile = serializers.UUIDField(source="profile.uuid", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    data = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "journey",
            "version",
            "profile",
            "status",
            "current_step",
            "next_run_at",
            "entered_at",
            "object_type",
            "object_id",
            "idempotency_key",
            "data",
        ]

    def get_data(self, enrollment: Enrollment) -> dict[str, Any]:
        return enrollment.context.get("data") or {}


class JourneyRefused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "enrollment_refused"
    default_detail = _("The customer cannot be enrolled in this journey now.")


class ProfileGone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "profile_erased"
    default_detail = _("This profile was erased on request.")


class EnrollView(OmnichannelAPIView):
    """Enroll one customer in a journey whose trigger is a call from code or the API.

    Returns 201 with the new run, or 200 with the run an earlier call with the
    same ``idempotency_key`` started. A journey that is not found returns 404, a
    profile that is not found 404 with code ``profile_not_found``; an erased
    profile 410. A journey that is paused, not active or not triggered by the
    API, or whose re-entry rule keeps the customer out, returns 409 with the
    reason as ``code``.
    """

    required_scopes = ("journeys:enroll",)

    @extend_schema(
        request=EnrollmentRequestSerializer,
        responses={
            200: EnrollmentSerializer,
            201: EnrollmentSerializer,
            404: ERROR_RESPONSE,
            409: ERROR_RESPONSE,
            410: ERROR_RESPONSE,
        },
        tags=["journeys"],
    )
    def post(self, request: Request, slug: str) -> Response:
        from omnichannel.api import enroll

        serializer = EnrollmentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        try:
            enrollment, created = enroll(
                slug,
                profile=values.get("profile"),
                email=values.get("email"),
                phone=values.get("phone"),
                data=values.get("data"),
                idempotency_key=values.get("idempotency_key"),
                object_type=values["object_type"],
                object_id=values["object_id"],
                source="api",
            )
        except JourneyNotFound as error:
            raise exceptions.NotFound(str(error), code="journey_not_found") from None
        except ProfileNotFound as error:
            raise exceptions.NotFound(str(error), code="profile_not_found") from None
        except InvalidIdentifier as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        except EnrollmentRefused as error:
            if error.reason == "profile_erased":
                raise ProfileGone() from None
            raise JourneyRefused(error.message, code=error.reason) from None
        except ValueError as error:
            raise exceptions.ValidationError({"data": [str(error)]}) from None
        return Response(
            EnrollmentSerializer(enrollment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
