"""REST endpoints of the assistant for staff: copy variants, the A/B test made from
them, weekly insights and today's token use."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omnichannel.assistant.client import tokens_used_today, utc_today
from omnichannel.assistant.copywriting import (
    COPY_KINDS,
    create_experiment,
    generate_variants,
)
from omnichannel.assistant.exceptions import InvalidRequest
from omnichannel.assistant.models import WeeklyInsight
from omnichannel.assistant.settings import model_configured, setting
from omnichannel.channels.models import MessageTemplate
from omnichannel.experiments.api import ExperimentSerializer
from omnichannel.rest import StaffAPIMixin, exception_handler


class StaffAPIView(StaffAPIMixin, APIView):
    """Staff only, with the app's error format."""

    api_scope = "assistant"

    def get_exception_handler(self) -> Any:
        return exception_handler


def _template(slug: str) -> MessageTemplate:
    template = MessageTemplate.objects.filter(slug=slug).first()
    if template is None:
        raise ValidationError(
            {"template": [f"No message template has the slug {slug!r}."]}
        )
    return template


def _invalid(error: InvalidRequest) -> ValidationError:
    return ValidationError({error.field: [error.message]})


class VariantRequestSerializer(serializers.Serializer):
    template = serializers.SlugField(help_text="Slug of the message template.")
    kind = serializers.ChoiceField(choices=COPY_KINDS)
    count = serializers.IntegerField(min_value=1, max_value=10, required=False)
    brief = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class CheckedVariantSerializer(serializers.Serializer):
    text = serializers.CharField()
    usable = serializers.BooleanField()
    problems = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())
    sms = serializers.DictField(allow_null=True)


class VariantSetSerializer(serializers.Serializer):
    kind = serializers.CharField()
    written_by_model = serializers.BooleanField()
    notice = serializers.CharField()
    variants = CheckedVariantSerializer(many=True)


class ExperimentRequestSerializer(serializers.Serializer):
    template = serializers.SlugField()
    kind = serializers.ChoiceField(choices=COPY_KINDS)
    variants = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False), min_length=1, max_length=10
    )


class VariantsView(StaffAPIView):
    """Write and check copy variants of a message template."""

    @extend_schema(request=VariantRequestSerializer, responses=VariantSetSerializer)
    def post(self, request: Request) -> Response:
        data = VariantRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = _template(data.validated_data["template"])
        try:
            result = generate_variants(
                template,
                data.validated_data["kind"],
                count=data.validated_data.get("count"),
                brief=data.validated_data.get("brief", ""),
            )
        except InvalidRequest as error:
            raise _invalid(error) from None
        variants = [
            {
                "text": variant.text,
                "usable": variant.usable,
                "problems": variant.problems,
                "notes": variant.notes,
                "sms": vars(variant.sms) if variant.sms else None,
            }
            for variant in result.variants
        ]
        return Response(
            {
                "kind": result.kind,
                "written_by_model": result.written_by_model,
                "notice": result.notice,
                "variants": variants,
            }
        )


class VariantExperimentView(StaffAPIView):
    """Turn chosen variants into a draft A/B test of the template."""

    @extend_schema(
        request=ExperimentRequestSerializer, responses={201: ExperimentSerializer}
    )
    def post(self, request: Request) -> Response:
        data = ExperimentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template = _template(data.validated_data["template"])
        try:
            experiment = create_experiment(
                template,
                data.validated_data["kind"],
                data.validated_data["variants"],
                created_by=request.user.get_username(),
            )
        except InvalidRequest as error:
            raise _invalid(error) from None
        return Response(
            ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED
        )


class UsageView(StaffAPIView):
    """Today's model tokens against the daily budget."""

    @extend_schema(
        responses=inline_serializer(
            "AssistantUsage",
            {
                "model_configured": serializers.BooleanField(),
                "day": serializers.DateField(),
                "tokens_used": serializers.IntegerField(),
                "daily_budget": serializers.IntegerField(allow_null=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "model_configured": model_configured(),
                "day": utc_today(),
                "tokens_used": tokens_used_today(),
                "daily_budget": setting("DAILY_TOKEN_BUDGET"),
            }
        )


class WeeklyInsightSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeeklyInsight
        fields = ["week_start", "summary", "author", "model", "note", "metrics"]


class WeeklyInsightViewSet(StaffAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Weekly insights by the Monday they start on (``YYYY-MM-DD``)."""

    queryset = WeeklyInsight.objects.order_by("-week_start")
    serializer_class = WeeklyInsightSerializer
    api_scope = "assistant"
    lookup_field = "week_start"
    lookup_value_regex = r"\d{4}-\d{2}-\d{2}"
