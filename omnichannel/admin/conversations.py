from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from omnichannel.conversations.models import (
    AgentAssignment,
    Conversation,
    FaqEntry,
    Message,
)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("created_at", "author", "agent", "channel", "body", "delivery_status")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AgentAssignmentInline(admin.TabularInline):
    model = AgentAssignment
    extra = 0
    fields = ("assigned_at", "agent", "assigned_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only history; agents reply in the agent console."""

    list_display = (
        "__str__",
        "profile",
        "channel",
        "status",
        "handler",
        "assigned_to",
        "last_message_at",
        "console_link",
    )
    list_filter = ("status", "handler", "channel")
    search_fields = ("uuid", "profile__email", "profile__phone", "subject")
    list_select_related = ("profile", "assigned_to")
    date_hierarchy = "created_at"
    readonly_fields = (
        "uuid",
        "profile",
        "channel",
        "status",
        "handler",
        "assigned_to",
        "subject",
        "created_at",
        "last_message_at",
        "waiting_since",
        "closed_at",
        "closed_by",
        "close_reason",
        "coupon_code",
        "console_link",
    )
    exclude = ("visitor_id", "token_hash")
    inlines = [MessageInline, AgentAssignmentInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("console"))
    def console_link(self, obj: Conversation) -> str:
        url = reverse("omnichannel:console_conversation", args=[obj.uuid])
        return format_html('<a href="{}">{}</a>', url, _("open in the console"))


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "keywords", "hand_over", "is_active", "position")
    list_editable = ("is_active", "position")
    list_filter = ("is_active", "hand_over")
    search_fields = ("question", "keywords", "answer")
