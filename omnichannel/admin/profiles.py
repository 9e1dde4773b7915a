from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from omnichannel.admin.offers import CustomerOfferInline
from omnichannel.profiles.models import Event, Identity, Profile, ProfileMerge

TIMELINE_LENGTH = 50


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "source", "created_at", "last_seen_at")
    readonly_fields = ("created_at", "last_seen_at")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """The profile page is a 360 view: identities, orders, RFM and the timeline."""

    list_display = (
        "__str__",
        "email",
        "phone",
        "order_count",
        "total_spent",
        "last_order_at",
        "rfm_group",
    )
    list_filter = ("rfm__group", "country")
    search_fields = ("email", "phone", "first_name", "last_name", "identities__value")
    readonly_fields = (
        "uuid",
        "created_at",
        "updated_at",
        "order_count",
        "total_spent",
        "average_order_value",
        "currency",
        "first_order_at",
        "last_order_at",
        "last_seen_at",
        "merged_into",
        "erased_at",
    )
    raw_id_fields = ("user",)
    inlines = [IdentityInline, CustomerOfferInline]
    change_form_template = "omnichannel/admin/profile_change_form.html"
    list_select_related = ("rfm",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        return super().get_queryset(request).filter(merged_into__isnull=True)

    @admin.display(description=_("RFM group"), ordering="rfm__group")
    def rfm_group(self, profile: Profile) -> str:
        rfm = getattr(profile, "rfm", None)
        return rfm.get_group_display() if rfm else "-"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        extra_context = extra_context or {}
        profile = self.get_object(request, object_id)
        if profile is not None:
            extra_context.update(profile_context(profile))
        return super().change_view(request, object_id, form_url, extra_context)


def profile_context(profile: Profile) -> dict[str, Any]:
    """Gather what the 360 view shows of one profile."""
    events = profile.events.order_by("-occurred_at", "-id")
    return {
        "timeline": list(events[:TIMELINE_LENGTH]),
        "orders": list(events.filter(name="order_placed")[:20]),
        "rfm": getattr(profile, "rfm", None),
    }


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the event log is append-only."""

    list_display = ("name", "profile", "occurred_at", "source", "revenue", "currency")
    list_filter = ("name", "source")
    search_fields = ("name", "object_id", "idempotency_key")
    raw_id_fields = ("profile",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProfileMerge)
class ProfileMergeAdmin(admin.ModelAdmin):
    list_display = ("loser", "survivor", "reason", "created_at", "undone_at")
    raw_id_fields = ("survivor", "loser")
    readonly_fields = ("moved", "loser_fields", "created_at", "undone_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
