from django.contrib import admin

from omnichannel.predictions.models import RFMScore


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
