"""REST API of placements, banners and pop-ups, for staff.

Validation is the models' own (``full_clean``), so the API and the admin reject the
same input with the same messages, naming the field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.personalisation.models import Banner, Placement, Popup
from omnichannel.personalisation.stats import banner_stats
from omnichannel.rest import StaffAPIMixin, exception_handler


class CleanedModelSerializer(serializers.ModelSerializer):
    """Run the model's ``full_clean`` and report its errors per field."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        fields = {
            name: value
            for name, value in attrs.items()
            if not isinstance(self.fields.get(name), serializers.ManyRelatedField)
        }
        if self.instance is not None:
            probe = self.Meta.model(
                **{
                    field.attname: getattr(self.instance, field.attname)
                    for field in self.Meta.model._meta.concrete_fields
                }
            )
        else:
            probe = self.Meta.model()
        for name, value in fields.items():
            setattr(probe, name, value)
        try:
            probe.full_clean(validate_unique=False)
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                serializers.as_serializer_error(error)
            ) from None
        return attrs


class PlacementSerializer(CleanedModelSerializer):
    class Meta:
        model = Placement
        fields = ["id", "key", "name", "description", "fallback", "created_at"]
        read_only_fields = ["created_at"]


class BannerSerializer(CleanedModelSerializer):
    placement = serializers.SlugRelatedField(
        slug_field="key", queryset=Placement.objects.all()
    )

    class Meta:
        model = Banner
        fields = [
            "id",
            "placement",
            "name",
            "title",
            "body",
            "image_url",
            "link_url",
            "link_text",
            "rules",
            "priority",
            "starts_at",
            "ends_at",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class PopupSerializer(CleanedModelSerializer):
    class Meta:
        model = Popup
        fields = [
            "id",
            "key",
            "name",
            "title",
            "body",
            "trigger",
            "delay_seconds",
            "rules",
            "priority",
            "starts_at",
            "ends_at",
            "is_active",
            "collect_email",
            "consent_text",
            "consent_version",
            "preference_key",
            "preference_label",
            "preference_choices",
            "offer_slug",
            "button_text",
            "max_per_visitor",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class StaffViewSet(StaffAPIMixin, viewsets.ModelViewSet):
    """Staff-only CRUD whose errors read ``{"detail", "code", "errors"}``."""

    api_scope = "personalisation"

    def get_exception_handler(self) -> Any:
        return exception_handler

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()


class PlacementViewSet(StaffViewSet):
    queryset = Placement.objects.all()
    serializer_class = PlacementSerializer


class BannerViewSet(StaffViewSet):
    queryset = Banner.objects.select_related("placement")
    serializer_class = BannerSerializer

    @extend_schema(
        responses=inline_serializer(
            "BannerStats",
            {
                "impressions": serializers.IntegerField(),
                "clicks": serializers.IntegerField(),
                "ctr": serializers.FloatField(allow_null=True),
                "variants": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: Any = None) -> Response:
        """Return impressions, clicks and click-through rate, also per variant."""
        stats = banner_stats(self.get_object())
        return Response(stats.as_dict())


class PopupViewSet(StaffViewSet):
    queryset = Popup.objects.all()
    serializer_class = PopupSerializer
