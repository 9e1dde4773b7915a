import base64

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.predictions.exceptions import PredictionError
from omnichannel.predictions.models import (
    CustomerPrediction,
    PredictionModel,
    PredictionValidation,
    RFMScore,
)
from omnichannel.predictions.services import activate_model


@admin.register(RFMScore)
class RFMScoreAdmin(admin.ModelAdmin):
    list_display = (
        "profile",
        "recency_score",
        "frequency_score",
        "monetary_score",
        "group",
        "scored_at",
    )
    list_filter = ("group", "recency_score", "frequency_score", "monetary_score")
    raw_id_fields = ("profile",)
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(PredictionModel)
class PredictionModelAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "fitted_at",
        "calibration_end",
        "n_customers",
        "log_likelihood",
        "converged",
        "is_active",
        "duration_seconds",
    )
    list_filter = ("kind", "converged", "is_active")
    readonly_fields = tuple(
        field.name for field in PredictionModel._meta.fields if field.name != "id"
    )
    actions = ("activate",)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    @admin.action(description=_("Make the selected converged fit the active model"))
    def activate(
        self, request: HttpRequest, queryset: QuerySet[PredictionModel]
    ) -> None:
        models = list(queryset)
        if len({model.kind for model in models}) != len(models):
            self.message_user(
                request,
                _("Select at most one model of each kind."),
                level=messages.ERROR,
            )
            return
        activated = 0
        for model in models:
            try:
                activate_model(model)
            except PredictionError as error:
                self.message_user(request, str(error), level=messages.ERROR)
            else:
                activated += 1
        if activated:
            self.message_user(
                request,
                ngettext(
                    "%(count)d model activated; the next scoring run uses it.",
                    "%(count)d models activated; the next scoring run uses them.",
                    activated,
                )
                % {"count": activated},
            )


@admin.register(CustomerPrediction)
class CustomerPredictionAdmin(admin.ModelAdmin):
    list_display = (
        "profile",
        "lifecycle_stage",
        "churn_risk",
        "expected_purchases_90d",
        "probability_purchase_30d",
        "clv_12m",
        "best_send_hour_of_week",
        "preferred_channel",
        "scored_at",
    )
    list_filter = ("lifecycle_stage", "preferred_channel")
    raw_id_fields = ("profile",)
    readonly_fields = tuple(
        field.name
        for field in CustomerPrediction._meta.fields
        if field.name != "profile"
    )
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(PredictionValidation)
class PredictionValidationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "source",
        "calibration_end",
        "holdout_end",
        "n_customers",
        "predicted_purchases",
        "actual_purchases",
        "mean_absolute_error",
        "converged",
    )
    readonly_fields = (
        "created_at",
        "source",
        "calibration_end",
        "holdout_end",
        "n_customers",
        "params",
        "converged",
        "predicted_purchases",
        "actual_purchases",
        "mean_absolute_error",
        "frequency_table",
        "plot",
    )
    exclude = ("table",)

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    @admin.display(description=_("holdout purchases by calibration frequency"))
    def frequency_table(self, obj: PredictionValidation) -> str:
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("frequency"),
            _("customers"),
            _("mean actual"),
            _("mean predicted"),
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.get("frequency"),
                    row.get("customers"),
                    row.get("mean_actual"),
                    row.get("mean_predicted"),
                )
                for row in obj.table
            ),
        )
        return format_html("<table>{}{}</table>", header, body)

    @admin.display(description=_("plot"))
    def plot(self, obj: PredictionValidation) -> str:
        if not obj.plot_png:
            return "-"
        encoded = base64.b64encode(bytes(obj.plot_png)).decode("ascii")
        return format_html(
            '<img src="data:image/png;base64,{}" alt="{}" style="max-width: 100%">',
            encoded,
            _("Predicted against actual holdout purchases"),
        )
