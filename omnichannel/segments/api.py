"""REST API of segments: rules, members, previews and explanations.

Staff only: a segment's rules and members are marketing data.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.exceptions import InvalidRule, SegmentInUse
from omnichannel.profiles.models import Profile
from omnichannel.rest import StaffAPIMixin
from omnichannel.segments.conditions import explain, rule_schema, validate
from omnichannel.segments.history import size_history
from omnichannel.segments.models import Segment, SegmentMembership
from omnichannel.segments.preview import preview_rule


def _rule_error(error: InvalidRule) -> serializers.ValidationError:
    return serializers.ValidationError(str(error), code="invalid_rule")


class SegmentSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, source="open_members")

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "rules",
            "is_active",
            "rebuild_periodically",
            "last_rebuilt_at",
            "last_rebuild_seconds",
            "member_count",
        ]
        read_only_fields = [
            "rebuild_periodically",
            "last_rebuilt_at",
            "last_rebuild_seconds",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        probe = Segment(
            pk=self.instance.pk if self.instance else None,
            slug=attrs.get("slug", self.instance.slug if self.instance else ""),
        )
        rules = attrs.get("rules", self.instance.rules if self.instance else None)
        if rules is None:
            raise serializers.ValidationError({"rules": "This field is required."})
        if rules == {}:
            return attrs
        try:
            validate(rules, segment=probe)
        except InvalidRule as error:
            raise serializers.ValidationError(
                {"rules": _rule_error(error).detail}
            ) from None
        return attrs


class RuleSerializer(serializers.Serializer):
    rules = serializers.JSONField()

    def validate_rules(self, value: Any) -> Any:
        try:
            validate(value)
        except InvalidRule as error:
            raise _rule_error(error) from None
        return value


class MemberSerializer(serializers.ModelSerializer):
    profile = serializers.IntegerField(source="profile_id")
    profile_uuid = serializers.UUIDField(
        source="profile.uuid",
        read_only=True,
        help_text="The profile's id in /api/profiles/<uuid>/.",
    )
    email = serializers.CharField(source="profile.email")

    class Meta:
        model = SegmentMembership
        fields = ["profile", "profile_uuid", "email", "entered_at"]


class MemberChangeSerializer(serializers.Serializer):
    add = serializers.ListField(child=serializers.IntegerField(), required=False)
    remove = serializers.ListField(child=serializers.IntegerField(), required=False)


class MemberPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


class SegmentViewSet(StaffAPIMixin, viewsets.ModelViewSet):
    """Segments by slug; ``preview`` and ``rule-schema`` need no segment."""

    serializer_class = SegmentSerializer
    api_scope = "segments"
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Segment]:
        return Segment.objects.annotate(
            open_members=Count(
                "memberships", filter=Q(memberships__exited_at__isnull=True)
            )
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().destroy(request, *args, **kwargs)
        except SegmentInUse as error:
            return Response(
                {
                    "detail": str(error),
                    "code": "segment_in_use",
                    "used_by": error.users,
                },
                status=status.HTTP_409_CONFLICT,
            )

    @extend_schema(responses=MemberSerializer(many=True))
    @extend_schema(methods=["POST"], request=MemberChangeSerializer)
    @action(detail=True, methods=["get", "post"])
    def members(self, request: Request, slug: str | None = None) -> Response:
        """List the current members, newest first; POST ``{"add": [ids], "remove":
        [ids]}`` changes the members of a segment without a rule."""
        segment = self.get_object()
        if request.method == "POST":
            return self._change_members(segment, request)
        rows = (
            SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
            .select_related("profile")
            .order_by("-entered_at", "-pk")
        )
        paginator = MemberPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(MemberSerializer(page, many=True).data)

    def _change_members(self, segment: Segment, request: Request) -> Response:
        from omnichannel.segments.membership import add_members, remove_members

        if not segment.is_manual:
            return Response(
                {
                    "detail": "This segment's rule decides its members; only a "
                    "segment without a rule ({}) takes members by hand.",
                    "code": "segment_has_rule",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = MemberChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added = add_members(segment, serializer.validated_data.get("add", []))
        removed = remove_members(segment, serializer.validated_data.get("remove", []))
        return Response({"added": added.entered, "removed": removed.exited})

    @extend_schema(
        parameters=[OpenApiParameter("profile", int, required=True)],
        responses=inline_serializer(
            "SegmentExplanation",
            {
                "profile": serializers.IntegerField(),
                "meets_rule": serializers.BooleanField(),
                "member": serializers.BooleanField(),
                "conditions": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=True)
    def explain(self, request: Request, slug: str | None = None) -> Response:
        """Explain why one profile is in or out of the segment."""
        segment = self.get_object()
        raw = request.query_params.get("profile", "")
        if not raw.isdigit():
            return Response(
                {"detail": "Give the profile id as ?profile=<id>.", "code": "invalid"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        profile = Profile.objects.filter(pk=int(raw)).first()
        if profile is None:
            return Response(
                {"detail": f"No profile has the id {raw}.", "code": "not_found"},
                status=status.HTTP_404_NOT_FOUND,
            )
        lines = explain(segment.rules, profile)
        member = SegmentMembership.objects.filter(
            segment=segment, profile=profile, exited_at__isnull=True
        ).exists()
        return Response(
            {
                "profile": profile.pk,
                "meets_rule": lines[0].result,
                "member": member,
                "conditions": [line.as_dict() for line in lines],
            }
        )

    @extend_schema(
        parameters=[OpenApiParameter("days", int)],
        responses=inline_serializer(
            "SegmentSize",
            {"day": serializers.DateField(), "size": serializers.IntegerField()},
            many=True,
        ),
    )
    @action(detail=True)
    def history(self, request: Request, slug: str | None = None) -> Response:
        """Return the number of members at the end of each of the last days."""
        raw = request.query_params.get("days", "90")
        if not raw.isdigit() or not 1 <= int(raw) <= 3660:
            return Response(
                {
                    "detail": "days must be a whole number from 1 to 3660.",
                    "code": "invalid",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        points = size_history(self.get_object(), int(raw))
        return Response(
            [{"day": day.isoformat(), "size": size} for day, size in points]
        )

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def rebuild(self, request: Request, slug: str | None = None) -> Response:
        """Queue a rebuild of the segment and of the segments that read it."""
        from omnichannel.segments.tasks import rebuild_segment_task

        segment = self.get_object()
        rebuild_segment_task.delay(segment.pk)
        return Response({"detail": "Rebuild queued."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=RuleSerializer,
        responses=inline_serializer(
            "SegmentPreview",
            {
                "count": serializers.IntegerField(),
                "timed_out": serializers.BooleanField(),
                "sample": serializers.ListField(child=serializers.IntegerField()),
            },
        ),
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """Count the profiles that meet a rule now and return a sample of their ids."""
        serializer = RuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = preview_rule(serializer.validated_data["rules"])
        return Response(
            {
                "count": result.count,
                "timed_out": result.timed_out,
                "sample": [profile.pk for profile in result.sample],
            }
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, url_path="rule-schema")
    def rule_schema(self, request: Request) -> Response:
        """Return the JSON Schema of rules."""
        return Response(rule_schema())
