from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from omnichannel.admin.profiles import actor_of
from omnichannel.consent.models import (
    ConsentRecord,
    ConsentWording,
    DataSubjectRequest,
    OptInRequest,
    Suppression,
    Topic,
)
from omnichannel.consent.services import normalise_address


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that are proof: they can be read, never changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """The ledger. Staff may add a row (consent given by phone, say), never edit."""

    list_display = (
        "profile",
        "channel",
        "purpose",
        "topic",
        "granted",
        "recorded_at",
        "source",
        "wording_version",
    )
    list_filter = ("channel", "purpose", "granted", "source")
    search_fields = ("profile__email", "profile__phone", "address", "profile__uuid")
    raw_id_fields = ("profile",)
    date_hierarchy = "recorded_at"
    fields = (
        "profile",
        "channel",
        "purpose",
        "topic",
        "granted",
        "recorded_at",
        "address",
        "source",
        "ip_address",
        "user_agent",
        "wording_version",
        "proof",
    )
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("source", "ip_address", "user_agent", "proof", "address")
        return self.fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ConsentRecord, form: Any, change: bool
    ) -> None:
        obj.source = actor_of(request)[:64]
        obj.ip_address = request.META.get("REMOTE_ADDR") or None
        obj.user_agent = request.headers.get("User-Agent", "")[:500]
        if not obj.address:
            obj.address = (
                obj.profile.email if obj.channel == "email" else obj.profile.phone
            )
        super().save_model(request, obj, form, change)


@admin.register(ConsentWording)
class ConsentWordingAdmin(admin.ModelAdmin):
    list_display = ("version", "channel", "purpose", "language", "created_at")
    list_filter = ("channel", "purpose", "language")
    search_fields = ("version", "text")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A wording shown to customers is part of the proof; add a new version.
        return ("version", "text", "created_at") if obj is not None else ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "position")
    list_editable = ("is_active", "position")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """The suppression list. Removing a row lets messages go to the address again."""

    list_display = ("address", "channel", "reason", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)
    readonly_fields = ("created_at", "details")
    date_hierarchy = "created_at"

    def save_model(
        self, request: HttpRequest, obj: Suppression, form: Any, change: bool
    ) -> None:
        obj.address = normalise_address(obj.channel, obj.address)
        if not change:
            obj.details = {**obj.details, "added_by": actor_of(request)}
        super().save_model(request, obj, form, change)


@admin.register(OptInRequest)
class OptInRequestAdmin(ReadOnlyAdmin):
    list_display = ("profile", "channel", "purpose", "requested_at", "confirmed_at")
    list_filter = ("channel", "purpose", ("confirmed_at", admin.EmptyFieldListFilter))
    search_fields = ("profile__email",)
    raw_id_fields = ("profile", "consent_record")


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdmin):
    list_display = ("kind", "profile", "requested_by", "via", "completed_at")
    list_filter = ("kind", "via")
    search_fields = ("profile__uuid", "requested_by")
    raw_id_fields = ("profile",)
