"""Admin of placements, banners and pop-ups, with impressions, clicks and CTR."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import (
    CharField,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from omnichannel.exceptions import InvalidRule
from omnichannel.personalisation.models import Banner, Placement, Popup
from omnichannel.personalisation.stats import banner_stats, ratio
from omnichannel.profiles.models import Event
from omnichannel.segments.conditions import describe


def format_ctr(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def event_count(name: str) -> Coalesce:
    """Return the number of ``name`` events of the outer banner, as a column."""
    events = (
        Event.objects.filter(
            name=name,
            object_type="banner",
            object_id=Cast(OuterRef("pk"), CharField()),
        )
        .order_by()
        .values("object_type")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(events, output_field=IntegerField()), 0)


def rule_in_words(obj: Any) -> str:
    try:
        return describe(obj.rules)
    except (InvalidRule, KeyError, TypeError, AttributeError):
        return str(_("invalid rule"))


class BannerInline(admin.TabularInline):
    model = Banner
    fields = ["name", "title", "priority", "starts_at", "ends_at", "is_active"]
    extra = 0
    show_change_link = True


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "fallback"]
    search_fields = ["key", "name"]
    inlines = [BannerInline]

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "fallback":
            placement_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Banner.objects.filter(placement_id=placement_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Banner)
class BannerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "placement",
        "priority",
        "is_active",
        "starts_at",
        "ends_at",
        "impressions",
        "clicks",
        "ctr",
    ]
    list_filter = ["placement", "is_active"]
    search_fields = ["name", "title"]
    readonly_fields = ["rule_description", "performance", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["placement", "name", "priority", "is_active"]}),
        (
            _("Content"),
            {"fields": ["title", "body", "image_url", "link_url", "link_text"]},
        ),
        (
            _("Who and when"),
            {"fields": ["rules", "rule_description", "starts_at", "ends_at"]},
        ),
        (_("Performance"), {"fields": ["performance", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Banner]:
        return (
            super()
            .get_queryset(request)
            .select_related("placement")
            .annotate(
                impression_count=event_count("banner_viewed"),
                click_count=event_count("banner_clicked"),
            )
        )

    @admin.display(description=_("impressions"), ordering="impression_count")
    def impressions(self, obj: Banner) -> int:
        return obj.impression_count  # type: ignore[attr-defined]

    @admin.display(description=_("clicks"), ordering="click_count")
    def clicks(self, obj: Banner) -> int:
        return obj.click_count  # type: ignore[attr-defined]

    @admin.display(description=_("CTR"))
    def ctr(self, obj: Banner) -> str:
        return format_ctr(ratio(obj.click_count, obj.impression_count))  # type: ignore[attr-defined]

    @admin.display(description=_("rule in words"))
    def rule_description(self, obj: Banner) -> str:
        return rule_in_words(obj)

    @admin.display(description=_("impressions, clicks and CTR"))
    def performance(self, obj: Banner) -> str:
        if obj.pk is None:
            return "-"
        stats = banner_stats(obj)
        rows = [
            (_("all visitors"), stats.impressions, stats.clicks, format_ctr(stats.ctr))
        ]
        rows += [
            (line.variant, line.impressions, line.clicks, format_ctr(line.ctr))
            for line in stats.variants
        ]
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
        )
        return format_html(
            '<table class="omnichannel-banner-stats"><thead><tr><th>{}</th><th>{}</th>'
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("variant"),
            _("impressions"),
            _("clicks"),
            _("CTR"),
            body,
        )


@admin.register(Popup)
class PopupAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "trigger", "priority", "is_active", "collect_email"]
    list_filter = ["trigger", "is_active", "collect_email"]
    search_fields = ["key", "name", "title"]
    readonly_fields = ["rule_description", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["key", "name", "priority", "is_active"]}),
        (_("Content"), {"fields": ["title", "body", "offer_slug", "button_text"]}),
        (
            _("Trigger"),
            {"fields": ["trigger", "delay_seconds", "max_per_visitor"]},
        ),
        (
            _("Email capture"),
            {
                "fields": [
                    "collect_email",
                    "consent_text",
                    "consent_version",
                    "preference_key",
                    "preference_label",
                    "preference_choices",
                ]
            },
        ),
        (
            _("Who and when"),
            {"fields": ["rules", "rule_description", "starts_at", "ends_at"]},
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description=_("rule in words"))
    def rule_description(self, obj: Popup) -> str:
        return rule_in_words(obj)
