"""Admin of the assistant: copy variants in the template editor, model usage, the
MCP audit log and the weekly insights."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.assistant.copywriting import (
    KIND_LABELS,
    create_experiment,
    generate_variants,
    kinds_for,
)
from omnichannel.assistant.exceptions import InvalidRequest
from omnichannel.assistant.insights import METRICS, last_full_week, write_weekly_insight
from omnichannel.assistant.models import McpCall, ModelUsage, WeeklyInsight
from omnichannel.assistant.settings import model_configured
from omnichannel.channels.models import MessageTemplate


class CopyVariantsMixin:
    """Add the "Write variants" page to the message template admin."""

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "<int:pk>/variants/",
                wrap(self.variants_view),
                name="omnichannel_messagetemplate_variants",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def variants_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(MessageTemplate, pk=pk)
        if not self.has_change_permission(request, template):  # type: ignore[attr-defined]
            raise PermissionDenied
        kinds = kinds_for(template)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": MessageTemplate._meta,
            "template_obj": template,
            "title": _("Write variants of %(name)s") % {"name": template.name},
            "kinds": [(kind, KIND_LABELS[kind]) for kind in kinds],
            "kind": request.POST.get("kind") or kinds[0],
            "brief": request.POST.get("brief", ""),
            "count": request.POST.get("count", ""),
            "model_configured": model_configured(),
        }
        if request.method == "POST" and request.POST.get("action") == "experiment":
            return self._create_experiment(request, template, context)
        if request.method == "POST":
            try:
                count = int(context["count"]) if context["count"] else None
            except ValueError:
                context["error"] = _("The number of variants must be a whole number.")
            else:
                try:
                    context["result"] = generate_variants(
                        template, context["kind"], count=count, brief=context["brief"]
                    )
                except InvalidRequest as error:
                    context["error"] = error.message
        return TemplateResponse(
            request, "omnichannel/admin/assistant/variants.html", context
        )

    def _create_experiment(
        self, request: HttpRequest, template: MessageTemplate, context: dict[str, Any]
    ) -> HttpResponse:
        chosen = request.POST.getlist("variant")
        try:
            experiment = create_experiment(
                template,
                context["kind"],
                chosen,
                created_by=request.user.get_username(),
            )
        except InvalidRequest as error:
            context["error"] = error.message
            return TemplateResponse(
                request, "omnichannel/admin/assistant/variants.html", context
            )
        messages.success(
            request,
            _("Draft A/B test %(key)s created; review it and start it when ready.")
            % {"key": experiment.key},
        )
        return HttpResponseRedirect(
            reverse("admin:omnichannel_experiment_change", args=[experiment.pk])
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ModelUsage)
class ModelUsageAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "feature",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "attempts",
        "duration_ms",
        "outcome",
    )
    list_filter = ("feature", "outcome", "day")
    date_hierarchy = "created_at"


@admin.register(McpCall)
class McpCallAdmin(ReadOnlyAdmin):
    list_display = (
        "called_at",
        "tool",
        "key_prefix",
        "api_key",
        "succeeded",
        "result_rows",
        "duration_ms",
    )
    list_filter = ("tool", "succeeded")
    search_fields = ("key_prefix", "tool")
    date_hierarchy = "called_at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An audit log that staff can prune is no audit log.
        return False


@admin.register(WeeklyInsight)
class WeeklyInsightAdmin(ReadOnlyAdmin):
    list_display = ("week_start", "author", "model", "created_at")
    list_filter = ("author",)
    fields = ("week_start", "author", "model", "note", "summary", "numbers")
    readonly_fields = fields
    actions = ["rewrite"]
    change_list_template = "omnichannel/admin/assistant/insight_changelist.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "write-last-week/",
                self.admin_site.admin_view(self.write_view),
                name="omnichannel_weeklyinsight_write",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("numbers"))
    def numbers(self, obj: WeeklyInsight) -> str:
        metrics = obj.metrics or {}
        header = format_html_join(
            "",
            "<th>{}</th>",
            [(_("row"),)] + [(metric,) for metric in METRICS],
        )
        rows = []
        for kind in ("channels", "journeys"):
            for row in metrics.get(kind, []):
                label = row.get("name") or row.get("key")
                cells = format_html_join(
                    "",
                    "<td>{} <small>({}; {})</small></td>",
                    [
                        (
                            row.get(metric),
                            row.get(f"{metric}_previous"),
                            _format_change(row.get(f"{metric}_change")),
                        )
                        for metric in METRICS
                    ],
                )
                rows.append(format_html("<tr><th>{}</th>{}</tr>", label, cells))
        if not rows:
            return str(_("No messages in this week or the week before."))
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>"
            "<p><small>{}</small></p>",
            header,
            format_html_join("", "{}", [(row,) for row in rows]),
            _("Each cell: this week (the week before; change)."),
        )

    @admin.action(description=_("Write the selected weeks again"))
    def rewrite(self, request: HttpRequest, queryset: QuerySet[WeeklyInsight]) -> None:
        if not request.user.has_perm("omnichannel.add_weeklyinsight"):
            raise PermissionDenied
        count = 0
        for insight in queryset:
            write_weekly_insight(insight.week_start)
            count += 1
        self.message_user(
            request,
            ngettext("Wrote %d week again.", "Wrote %d weeks again.", count) % count,
        )

    def write_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm(
            "omnichannel.add_weeklyinsight"
        ):
            raise PermissionDenied
        insight = write_weekly_insight(last_full_week())
        self.message_user(
            request,
            _("Wrote the insight of the week of %(week)s.")
            % {"week": insight.week_start},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:omnichannel_weeklyinsight_change", args=[insight.pk])
        )


def _format_change(value: Any) -> str:
    return "-" if value is None else f"{value:+.1f}%"
