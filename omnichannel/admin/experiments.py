"""Admin of experiments: variants inline, lifecycle actions, the results page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.admin.dashboards import Section, export_csv, render_dashboard
from omnichannel.analytics import charts
from omnichannel.analytics.tables import Table
from omnichannel.exceptions import ExperimentError
from omnichannel.experiments.evaluation import experiment_results, find_winner
from omnichannel.experiments.metrics import ExperimentResults, arm_table
from omnichannel.experiments.models import Assignment, Experiment, Variant
from omnichannel.experiments.services import (
    complete_experiment,
    pause_experiment,
    start_experiment,
)

COMPARISON_COLUMNS = [
    ("metric", _("metric")),
    ("arm", _("variant")),
    ("reference", _("against")),
    ("reference_value", _("reference value")),
    ("value", _("value")),
    ("difference", _("difference")),
    ("relative_lift", _("relative lift")),
    ("ci_low", _("CI low")),
    ("ci_high", _("CI high")),
    ("p_value", _("p-value")),
    ("probability_to_beat", _("probability to beat")),
    ("significant", _("significant")),
    ("note", _("note")),
]


class VariantFormSet(forms.BaseInlineFormSet):
    """The variants of one experiment: at most one of them is the control."""

    def clean(self) -> None:
        super().clean()
        controls = [
            form.cleaned_data.get("key") or "?"
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("is_control")
        ]
        if len(controls) > 1:
            raise forms.ValidationError(
                _("Variants %(keys)s are all marked as the control; mark only one.")
                % {"keys": ", ".join(controls)}
            )


class VariantInline(admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    extra = 0
    fields = ("key", "name", "is_control", "weight", "payload")


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = (
        "key",
        "name",
        "target",
        "metric",
        "status",
        "holdout_share",
        "winner",
        "started_at",
        "results_link",
    )
    list_filter = ("status", "target", "metric")
    search_fields = ("key", "name", "target_ref")
    readonly_fields = (
        "status",
        "winner",
        "promoted_at",
        "started_at",
        "ended_at",
        "created_at",
    )
    inlines = [VariantInline]
    actions = ["start_selected", "pause_selected", "complete_selected"]
    fieldsets = (
        (None, {"fields": ("key", "name", "description", "status")}),
        (_("What is tested"), {"fields": ("target", "target_ref")}),
        (
            _("Measurement"),
            {
                "fields": (
                    "metric",
                    "holdout_share",
                    "conversion_window",
                    "significance_level",
                    "minimum_detectable_lift",
                    "minimum_sample_size",
                    "auto_promote",
                )
            },
        ),
        (
            _("Outcome"),
            {
                "fields": (
                    "winner",
                    "promoted_at",
                    "started_at",
                    "ended_at",
                    "created_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            # The key seeds assignment: changing it would reshuffle new profiles.
            fields += ("key",)
        return fields

    @admin.display(description=_("results"))
    def results_link(self, experiment: Experiment) -> str:
        url = reverse("admin:omnichannel_experiment_results", args=[experiment.pk])
        return format_html('<a href="{}">{}</a>', url, _("Results"))

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Experiment],
        action: Any,
        done: str,
    ) -> None:
        count = 0
        for experiment in queryset:
            try:
                action(experiment)
            except ExperimentError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(
                request,
                ngettext(
                    "%(count)d experiment %(done)s.",
                    "%(count)d experiments %(done)s.",
                    count,
                )
                % {"count": count, "done": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Start the selected experiments"))
    def start_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, start_experiment, str(_("started")))

    @admin.action(description=_("Pause the selected experiments"))
    def pause_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, pause_experiment, str(_("paused")))

    @admin.action(description=_("Complete the selected experiments without a winner"))
    def complete_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, complete_experiment, str(_("completed")))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name="omnichannel_experiment_results",
            ),
            *super().get_urls(),
        ]

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        experiment = self.get_object(request, object_id)
        if experiment is None:
            raise Http404(f"No experiment with id {object_id!r}.")
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        if request.method == "POST":
            return self._promote(request, experiment)

        results = experiment_results(experiment)
        sections = results_sections(results)
        export = request.GET.get("export")
        if export:
            return export_csv(_AlwaysValid(), sections, export, experiment.key)
        winner, reason = find_winner(results)
        summary = [
            (_("status"), experiment.get_status_display()),
            (_("primary metric"), experiment.get_metric_display()),
            (_("alpha per comparison"), results.adjusted_alpha),
            (_("needed per arm"), results.sample_size_per_arm),
            (_("sample ratio p_value"), results.sample_ratio_p_value),
            (_("winner"), str(experiment.winner) if experiment.winner_id else None),
        ]
        can_promote = (
            self.has_change_permission(request, experiment)
            and experiment.status != Experiment.Status.COMPLETED
        )
        return render_dashboard(
            request,
            self.admin_site,
            self.opts,
            title=_("Results of %(name)s") % {"name": experiment},
            form=None,
            sections=sections,
            summary=summary,
            extra={
                "experiment": experiment,
                "candidate": winner,
                "reason": reason,
                "can_promote": can_promote,
                "variants": list(experiment.variants.order_by("id")),
            },
            template="omnichannel/admin/experiment_results.html",
        )

    def _promote(self, request: HttpRequest, experiment: Experiment) -> HttpResponse:
        if not self.has_change_permission(request, experiment):
            raise PermissionDenied
        variant_id = request.POST.get("variant", "")
        winner = (
            experiment.variants.filter(pk=variant_id).first()
            if variant_id.isdigit()
            else None
        )
        if winner is None:
            self.message_user(
                request,
                _("Choose one of this experiment's variants to promote."),
                messages.ERROR,
            )
        else:
            try:
                complete_experiment(experiment, winner)
            except ExperimentError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(variant)s now goes to everyone.") % {"variant": winner},
                    messages.SUCCESS,
                )
        return HttpResponseRedirect(request.path)


class _AlwaysValid:
    """Stands in for a filter form on pages without filters."""

    cleaned_data: dict[str, Any] = {}

    def is_valid(self) -> bool:
        return True


def results_sections(results: ExperimentResults) -> list[Section]:
    """Build the sections of an experiment's results page."""
    arms = arm_table(results)
    arm_columns = [(key, key.replace("_", " ")) for key in arms[0]] if arms else []
    labels = [row["arm"] for row in arms]
    arm_section = Section(
        str(_("Arms")),
        Table("arms", _("Arms"), arm_columns, arms),
        charts.bar_chart(
            labels,
            [
                (str(_("open rate")), [row["open_rate"] for row in arms]),
                (str(_("click-through rate")), [row["click_rate"] for row in arms]),
                (str(_("conversion rate")), [row["conversion_rate"] for row in arms]),
            ],
            title=str(_("Rates per arm")),
            percent=True,
        )
        if arms
        else None,
        str(
            _(
                "Every assigned profile counts as a recipient. Open and click rates "
                "are over delivered; conversions are orders within the window."
            )
        ),
    )
    revenue_section = Section(
        str(_("Revenue per recipient")),
        Table(
            "revenue",
            _("Revenue per recipient"),
            [
                ("arm", _("arm")),
                ("assigned", _("assigned")),
                ("orders", _("orders")),
                ("revenue", _("revenue")),
                ("revenue_per_recipient", _("revenue per recipient")),
            ],
            arms,
        ),
        charts.bar_chart(
            labels,
            [
                (
                    str(_("revenue per recipient")),
                    [row["revenue_per_recipient"] for row in arms],
                )
            ],
            title=str(_("Revenue per recipient")),
        )
        if arms
        else None,
    )
    sections = [arm_section, revenue_section]
    sections.append(
        Section(
            str(_("Against the control")),
            Table(
                "comparisons",
                _("Against the control"),
                COMPARISON_COLUMNS,
                [vars(c) for c in results.comparisons],
            ),
            note=str(
                _("Significant means p below %(alpha).4f (alpha split over variants).")
                % {"alpha": results.adjusted_alpha}
            ),
        )
    )
    if results.holdout_comparisons:
        sections.append(
            Section(
                str(_("Against the holdout group (incremental lift)")),
                Table(
                    "holdout",
                    _("Against the holdout group"),
                    COMPARISON_COLUMNS,
                    [vars(c) for c in results.holdout_comparisons],
                ),
            )
        )
    return sections


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Read-only: an assignment never changes once written."""

    list_display = ("experiment", "profile", "variant", "assigned_at")
    list_filter = ("experiment",)
    raw_id_fields = ("profile",)
    list_select_related = ("experiment", "variant")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
