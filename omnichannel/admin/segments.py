"""Admin of segments: the htmx rule builder with a live count, sample members, the
reason a profile is in or out, and the size over time."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.exceptions import InvalidRule
from omnichannel.profiles.models import Profile
from omnichannel.segments.builder import (
    BuilderNode,
    apply_action,
    prepare,
    read_builder,
    rule_from_tree,
    tree_from_rule,
)
from omnichannel.segments.conditions import describe, explain, validate
from omnichannel.segments.history import size_chart, size_history
from omnichannel.segments.membership import rebuild_segments
from omnichannel.segments.models import Segment, SegmentMembership, default_rule
from omnichannel.segments.preview import preview_rule
from omnichannel.segments.receivers import referencing_segments

HISTORY_DAYS = 90
RECENT_CHANGES = 20


class SegmentForm(forms.ModelForm):
    """Segment fields, with the rule read from the builder's inputs.

    ``rules`` is a hidden field, so a rule error has a field to belong to. The builder
    shows the error beside the condition it names.
    """

    manual = forms.BooleanField(
        label=_("Members added by hand"),
        required=False,
        help_text=_(
            "No rule: code, imports or the API add and remove the members, and the "
            "rule below is not used."
        ),
    )

    class Meta:
        model = Segment
        fields = ["name", "slug", "description", "is_active", "manual", "rules"]
        widgets = {"rules": forms.HiddenInput}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["manual"].initial = self.instance.is_manual

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tree = read_builder(self.data)
        if cleaned.get("manual"):
            cleaned["rules"] = {}
        elif tree is not None:
            cleaned["rules"] = rule_from_tree(tree)
        elif not cleaned.get("rules"):
            cleaned["rules"] = (
                self.instance.rules if self.instance.pk else default_rule()
            )
        return cleaned


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = (
        "name",
        "slug",
        "is_active",
        "member_count",
        "rebuild_periodically",
        "last_rebuilt_at",
        "last_rebuild_seconds",
    )
    list_filter = ("is_active", "rebuild_periodically")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (
        "rebuild_periodically",
        "last_rebuilt_at",
        "last_rebuild_seconds",
    )
    actions = ["rebuild_now"]
    change_form_template = "omnichannel/admin/segments/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Segment]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_members=Count(
                    "memberships", filter=Q(memberships__exited_at__isnull=True)
                )
            )
        )

    @admin.display(description=_("members"), ordering="open_members")
    def member_count(self, segment: Segment) -> int:
        return getattr(segment, "open_members", 0)

    @admin.action(description=_("Rebuild the members of the selected segments now"))
    def rebuild_now(self, request: HttpRequest, queryset: QuerySet[Segment]) -> None:
        slugs = list(queryset.filter(is_active=True).values_list("slug", flat=True))
        changes = rebuild_segments(slugs)
        entered = sum(len(change.entered) for change in changes.values())
        exited = sum(len(change.exited) for change in changes.values())
        self.message_user(
            request,
            ngettext(
                "Rebuilt %(count)d segment: %(entered)d entered, %(exited)d exited.",
                "Rebuilt %(count)d segments: %(entered)d entered, %(exited)d exited.",
                len(changes),
            )
            % {"count": len(changes), "entered": entered, "exited": exited},
            messages.SUCCESS,
        )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        for segment in objs:
            for slug in referencing_segments(segment.slug):
                protected.append(
                    _("Segment “%(slug)s” refers to “%(used)s” in its rule")
                    % {"slug": slug, "used": segment.slug}
                )
        return deleted, model_count, perms_needed, protected

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "builder/",
                self.admin_site.admin_view(self.builder_view),
                name=f"{info[0]}_{info[1]}_builder",
            ),
            *super().get_urls(),
        ]

    def builder_view(self, request: HttpRequest) -> HttpResponse:
        """Apply one builder change and return the builder with a fresh preview."""
        if request.method != "POST":
            return HttpResponse(status=405)
        segment = None
        if request.POST.get("segment_id", "").isdigit():
            segment = get_object_or_404(Segment, pk=request.POST["segment_id"])
            if not self.has_change_permission(request, segment):
                raise PermissionDenied
        elif not self.has_add_permission(request):
            raise PermissionDenied
        tree = read_builder(request.POST) or tree_from_rule(default_rule())
        action = request.POST.get("action", "")
        if action:
            apply_action(tree, action)
        context = builder_context(
            tree,
            segment=segment,
            slug=request.POST.get("slug", ""),
            explain_for=request.POST.get("explain_profile", ""),
            manual=bool(request.POST.get("manual")),
        )
        context["builder_url"] = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_builder"
        )
        return TemplateResponse(
            request, "omnichannel/admin/segments/builder.html", context
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Segment | None = None,
    ) -> Any:
        form = context["adminform"].form
        tree = read_builder(form.data) if form.is_bound else None
        manual = bool(form.data.get("manual")) if form.is_bound else False
        if tree is None:
            has_rule = obj is not None and not obj.is_manual
            tree = tree_from_rule(obj.rules if has_rule else default_rule())
            manual = manual or (obj is not None and obj.is_manual)
        context.update(
            builder_context(
                tree,
                segment=obj,
                slug=form.data.get("slug", "") if form.is_bound else "",
                explain_for=request.GET.get("profile", ""),
                manual=manual,
            )
        )
        context["builder_url"] = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_builder"
        )
        if obj is not None and obj.pk:
            points = size_history(obj, HISTORY_DAYS)
            context["size_chart"] = size_chart(points)
            context["history_days"] = HISTORY_DAYS
            context["recent_changes"] = recent_changes(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


def builder_context(
    tree: BuilderNode,
    *,
    segment: Segment | None,
    slug: str = "",
    explain_for: str = "",
    manual: bool = False,
) -> dict[str, Any]:
    """Gather what the builder template shows for a tree: the rows, the error, the
    live count and sample, and the explanation for one profile."""
    rule = rule_from_tree(tree)
    if manual:
        prepare(tree, None, [])
        return {"tree": tree, "manual": True, "segment": segment}
    error = None
    probe = Segment(
        pk=segment.pk if segment else None,
        slug=slug or (segment.slug if segment else ""),
    )
    try:
        validate(rule, segment=probe if probe.slug else None)
    except InvalidRule as invalid:
        error = invalid
    choices = list(
        Segment.objects.exclude(pk=segment.pk if segment else None).values_list(
            "slug", "name"
        )
    )
    prepare(tree, error, choices)
    context: dict[str, Any] = {
        "tree": tree,
        "rule_error": error,
        "rule_json": json.dumps(rule, indent=2, ensure_ascii=False),
        "segment": segment,
        "explain_for": explain_for,
    }
    if error is None:
        context["rule_text"] = describe(rule)
        context["preview"] = preview_rule(rule)
        if explain_for:
            context.update(explanation_context(rule, explain_for, segment))
    return context


def explanation_context(
    rule: dict[str, Any], query: str, segment: Segment | None
) -> dict[str, Any]:
    """Explain the rule for the profile named by ``query`` (an id or an email)."""
    query = query.strip()
    lookup = Q(pk=int(query)) if query.isdigit() else Q(email__iexact=query)
    profile = Profile.objects.filter(lookup).first()
    if profile is None:
        return {"explain_missing": True}
    lines = explain(rule, profile)
    context: dict[str, Any] = {"explain_profile": profile, "explanation": lines}
    if segment is not None and segment.pk:
        context["explain_member"] = SegmentMembership.objects.filter(
            segment=segment, profile=profile, exited_at__isnull=True
        ).exists()
        if profile.merged_into_id or profile.erased_at:
            context["explain_ineligible"] = True
    return context


def recent_changes(segment: Segment) -> list[dict[str, Any]]:
    """Return the latest entries and exits of a segment, newest first."""
    entries = SegmentMembership.objects.filter(segment=segment).select_related(
        "profile"
    )
    changes = [
        {"at": row.entered_at, "entered": True, "profile": row.profile}
        for row in entries.order_by("-entered_at")[:RECENT_CHANGES]
    ] + [
        {"at": row.exited_at, "entered": False, "profile": row.profile}
        for row in entries.filter(exited_at__isnull=False).order_by("-exited_at")[
            :RECENT_CHANGES
        ]
    ]
    return sorted(changes, key=lambda change: change["at"], reverse=True)[
        :RECENT_CHANGES
    ]


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(admin.ModelAdmin):
    """Read-only history: memberships change through rebuilds and refreshes."""

    list_display = ("segment", "profile", "entered_at", "exited_at")
    list_filter = ("segment", ("exited_at", admin.EmptyFieldListFilter))
    raw_id_fields = ("profile",)
    date_hierarchy = "entered_at"
    list_select_related = ("segment", "profile")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
