"""Read-only REST endpoints of message templates and deliveries, for staff."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.channels.preview import render_preview
from omnichannel.exceptions import RenderError
from omnichannel.profiles.models import Profile
from omnichannel.rest import StaffAPIMixin


class MessageTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "slug",
            "name",
            "channel",
            "purpose",
            "subject",
            "preheader",
            "body",
            "text_body",
            "url",
            "sms_max_segments",
            "sms_overflow",
            "whatsapp_template",
            "whatsapp_language",
            "utm_campaign",
            "recommendation_count",
            "is_active",
            "updated_at",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    profile_uuid = serializers.UUIDField(
        source="profile.uuid",
        read_only=True,
        help_text="The profile's id in /api/profiles/<uuid>/.",
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "profile",
            "profile_uuid",
            "channel",
            "template",
            "dedupe_key",
            "source_type",
            "source_id",
            "step_key",
            "status",
            "reason",
            "subject",
            "sms_encoding",
            "sms_segments",
            "provider_message_id",
            "attempts",
            "scheduled_at",
            "next_attempt_at",
            "created_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "bounced_at",
        ]


class PreviewRequestSerializer(serializers.Serializer):
    profile = serializers.CharField(
        help_text=_("Profile id or email address of the customer to preview as.")
    )
    context = serializers.DictField(required=False, default=dict)


class MessageTemplateViewSet(StaffAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Message templates by slug; ``preview/`` renders one as a chosen customer."""

    queryset = MessageTemplate.objects.order_by("name")
    serializer_class = MessageTemplateSerializer
    api_scope = "messages"
    lookup_field = "slug"

    @action(detail=True, methods=["post"])
    def preview(self, request: Request, slug: str | None = None) -> Response:
        template = self.get_object()
        given = PreviewRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        value = given.validated_data["profile"].strip()
        profiles = Profile.objects.all()
        profile = (
            profiles.filter(pk=int(value)).first()
            if value.isdigit()
            else profiles.filter(email__iexact=value).first()
        )
        if profile is None:
            raise ValidationError(
                {"profile": [_("No profile has this id or email address.")]},
                code="not_found",
            )
        try:
            rendered = render_preview(
                template, profile, given.validated_data["context"]
            )
        except RenderError as error:
            raise ValidationError(
                {"template": [str(error)]}, code="render_error"
            ) from error
        body: dict[str, Any] = {
            "subject": rendered.subject,
            "preheader": rendered.preheader,
            "html": rendered.html,
            "text": rendered.text,
            "url": rendered.url,
            "parameters": rendered.parameters,
            "held_reason": rendered.held_reason,
        }
        if rendered.sms is not None:
            body["sms"] = {
                "encoding": rendered.sms.encoding,
                "units": rendered.sms.units,
                "segments": rendered.sms.segments,
                "transliterated": rendered.transliterated,
            }
        return Response(body)


class DeliveryViewSet(StaffAPIMixin, viewsets.ReadOnlyModelViewSet):
    """The outbox, filtered by ``profile``, ``status``, ``channel``, ``source_type``
    and ``source_id`` query parameters."""

    serializer_class = DeliverySerializer
    api_scope = "messages"
    filters = ("profile", "status", "channel", "source_type", "source_id")

    def get_queryset(self) -> QuerySet[Delivery]:
        queryset = Delivery.objects.select_related("template", "profile").order_by(
            "-created_at", "-id"
        )
        for name in self.filters:
            value = self.request.query_params.get(name)
            if value is None:
                continue
            if name == "profile" and not value.isdigit():
                raise ValidationError(
                    {"profile": [_("Give the profile's numeric id.")]},
                    code="invalid",
                )
            queryset = queryset.filter(**{name: value})
        return queryset
