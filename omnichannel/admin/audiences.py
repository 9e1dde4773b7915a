"""Admin of the ad platform audiences: status, counts, errors and "Sync now"."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import truncatechars
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from omnichannel.audiences.models import (
    Audience,
    AudienceMember,
    MemberState,
    SyncRun,
)
from omnichannel.audiences.platforms import platform_choices
from omnichannel.audiences.tasks import sync_audience

RECENT_RUNS = 10


def queue_syncs(audience_ids: Iterable[int]) -> int:
    """Queue a sync of each audience after the current transaction commits."""
    count = 0
    for audience_id in audience_ids:
        transaction.on_commit(
            partial(sync_audience.delay, audience_id, SyncRun.Trigger.ADMIN)
        )
        count += 1
    return count


class AudienceForm(forms.ModelForm):
    platform = forms.ChoiceField(
        label=_("platform"),
        choices=platform_choices,
        help_text=_("Platforms come from OMNICHANNEL['AUDIENCE_PLATFORMS']."),
    )

    class Meta:
        model = Audience
        fields = [
            "name",
            "segment",
            "platform",
            "kind",
            "external_id",
            "account_id",
            "is_active",
            "sync_interval",
        ]


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    """Each audience with its last sync, counts and error, and a "Sync now" button."""

    form = AudienceForm
    list_display = (
        "name",
        "platform",
        "kind",
        "segment",
        "is_active",
        "last_status",
        "last_sync_at",
        "member_count",
        "pending_count",
        "rejected_count",
        "short_error",
    )
    list_filter = ("platform", "kind", "is_active", "last_status")
    search_fields = ("name", "external_id", "segment__name")
    list_select_related = ("segment",)
    readonly_fields = (
        "last_status",
        "last_sync_at",
        "next_sync_at",
        "member_count",
        "pending_count",
        "rejected_count",
        "last_error",
        "recent_runs",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "segment",
                    "platform",
                    "kind",
                    "external_id",
                    "account_id",
                    "is_active",
                    "sync_interval",
                )
            },
        ),
        (
            _("Sync"),
            {
                "fields": (
                    "last_status",
                    "last_sync_at",
                    "next_sync_at",
                    "member_count",
                    "pending_count",
                    "rejected_count",
                    "last_error",
                    "recent_runs",
                )
            },
        ),
    )
    actions = ["sync_now", "retry_rejected"]
    change_form_template = "omnichannel/admin/audience_change_form.html"

    @admin.display(description=_("last error"))
    def short_error(self, audience: Audience) -> str:
        return truncatechars(audience.last_error, 80) if audience.last_error else ""

    @admin.display(description=_("recent syncs"))
    def recent_runs(self, audience: Audience) -> str:
        runs = audience.runs.all()[:RECENT_RUNS] if audience.pk else []
        if not runs:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M"),
                    run.get_trigger_display(),
                    run.get_status_display(),
                    run.segment_size,
                    run.eligible,
                    run.added,
                    run.removed,
                    run.rejected,
                    truncatechars(run.error, 120),
                )
                for run in runs
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("started"),
            _("trigger"),
            _("status"),
            _("in segment"),
            _("eligible"),
            _("added"),
            _("removed"),
            _("rejected"),
            _("error"),
            rows,
        )

    @admin.action(description=_("Sync selected audiences now"))
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Audience]) -> None:
        count = queue_syncs(queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext(
                "Sync queued for %(count)d audience.",
                "Sync queued for %(count)d audiences.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Upload rejected rows again at the next sync"))
    def retry_rejected(
        self, request: HttpRequest, queryset: QuerySet[Audience]
    ) -> None:
        count = AudienceMember.objects.filter(
            audience__in=queryset, state=MemberState.REJECTED
        ).update(state=MemberState.PENDING_ADD, error="")
        self.message_user(
            request,
            ngettext(
                "%(count)d rejected row will be uploaded again.",
                "%(count)d rejected rows will be uploaded again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(require_POST(self.sync_view))
        return [
            path(
                "<int:object_id>/sync/",
                view,
                name="omnichannel_audience_sync",
            ),
            *super().get_urls(),
        ]

    def sync_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        audience = get_object_or_404(Audience, pk=object_id)
        if not self.has_change_permission(request, audience):
            raise PermissionDenied
        queue_syncs([audience.pk])
        self.message_user(
            request,
            _("Sync of “%(name)s” queued.") % {"name": audience.name},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:omnichannel_audience_change", args=[audience.pk])
        )


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Read-only history of audience syncs."""

    list_display = (
        "audience",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "segment_size",
        "eligible",
        "added",
        "removed",
        "rejected",
        "requests",
        "short_error",
    )
    list_filter = ("status", "trigger", "audience")
    date_hierarchy = "started_at"
    show_full_result_count = False

    @admin.display(description=_("error"))
    def short_error(self, run: SyncRun) -> str:
        return truncatechars(run.error, 80) if run.error else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AudienceMember)
class AudienceMemberAdmin(admin.ModelAdmin):
    """Read-only rows per profile and audience; the hashes themselves are not shown."""

    list_display = (
        "profile",
        "audience",
        "state",
        "identifiers",
        "added_at",
        "removed_at",
        "error",
    )
    list_filter = ("state", "audience")
    raw_id_fields = ("profile",)
    fields = (
        "audience",
        "profile",
        "state",
        "identifiers",
        "in_flight",
        "added_at",
        "removed_at",
        "updated_at",
        "error",
    )
    readonly_fields = fields
    list_select_related = ("audience",)
    show_full_result_count = False

    @admin.display(description=_("identifiers"))
    def identifiers(self, member: AudienceMember) -> str:
        hashes = member.uploaded or member.pending or {}
        return ", ".join(sorted(hashes)) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
