"""Admin of message templates (editor with live preview and test send) and the
outbox."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from omnichannel.admin.assistant import CopyVariantsMixin
from omnichannel.channels.models import (
    Delivery,
    MessageTemplate,
    OnsiteMessage,
    WebPushSubscription,
)
from omnichannel.channels.preview import render_preview, send_test
from omnichannel.channels.rendering import template_errors
from omnichannel.exceptions import ChannelError
from omnichannel.profiles.models import Profile

EDITABLE_FIELDS = (
    "channel",
    "purpose",
    "subject",
    "preheader",
    "body",
    "text_body",
    "css",
    "url",
    "sms_max_segments",
    "sms_overflow",
    "whatsapp_template",
    "whatsapp_language",
    "utm_campaign",
    "recommendation_count",
    "slug",
)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(CopyVariantsMixin, admin.ModelAdmin):
    """Template editor: the preview renders the unsaved form as a chosen customer."""

    list_display = ("name", "slug", "channel", "purpose", "is_active", "updated_at")
    list_filter = ("channel", "purpose", "is_active")
    search_fields = ("name", "slug", "subject")
    prepopulated_fields = {"slug": ("name",)}
    change_form_template = "omnichannel/admin/channels/template_change_form.html"
    fieldsets = (
        (None, {"fields": ("name", "slug", "channel", "purpose", "is_active")}),
        (
            _("Content"),
            {"fields": ("subject", "preheader", "body", "text_body", "css", "url")},
        ),
        (
            _("Channel options"),
            {
                "fields": (
                    "sms_max_segments",
                    "sms_overflow",
                    "whatsapp_template",
                    "whatsapp_language",
                    "utm_campaign",
                    "recommendation_count",
                )
            },
        ),
    )

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "preview/",
                wrap(require_POST(self.preview_view)),
                name="omnichannel_messagetemplate_preview",
            ),
            path(
                "test-send/",
                wrap(require_POST(self.test_send_view)),
                name="omnichannel_messagetemplate_test_send",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context["preview_url"] = reverse("admin:omnichannel_messagetemplate_preview")
        context["test_send_url"] = reverse(
            "admin:omnichannel_messagetemplate_test_send"
        )
        original = context.get("original")
        if original is not None:
            context["variants_url"] = reverse(
                "admin:omnichannel_messagetemplate_variants", args=[original.pk]
            )
        return super().render_change_form(request, context, *args, **kwargs)

    def _draft(self, request: HttpRequest) -> MessageTemplate:
        """Build an unsaved template from the posted editor fields."""
        draft = MessageTemplate(name=request.POST.get("name", ""))
        for name in EDITABLE_FIELDS:
            field = MessageTemplate._meta.get_field(name)
            raw = request.POST.get(name)
            if raw is None:
                continue
            try:
                value = field.to_python(raw)
            except Exception:  # noqa: BLE001 - keep the default of a bad number
                continue
            setattr(draft, name, value if value is not None else field.get_default())
        draft.slug = draft.slug or "preview"
        return draft

    def _profile(self, request: HttpRequest) -> Profile | None:
        value = request.POST.get("preview_profile", "").strip()
        if not value:
            return None
        if value.isdigit():
            return Profile.objects.filter(pk=int(value)).first()
        return Profile.objects.filter(email__iexact=value).first()

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request) and not self.has_add_permission(
            request
        ):
            raise PermissionDenied
        draft = self._draft(request)
        context: dict[str, Any] = {"draft": draft}
        profile = self._profile(request)
        errors = template_errors(draft)
        if errors:
            context["errors"] = [
                f"{name}: {message}"
                for name, messages in errors.items()
                for message in messages
            ]
        elif profile is None:
            context["errors"] = [
                _("Choose a customer by profile id or email address to preview as.")
            ]
        else:
            context["profile"] = profile
            try:
                context["rendered"] = render_preview(draft, profile)
            except ChannelError as error:
                context["errors"] = [str(error)]
        return TemplateResponse(
            request, "omnichannel/admin/channels/preview.html", context
        )

    def test_send_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        draft = self._draft(request)
        profile = self._profile(request)
        address = request.POST.get("test_address", "")
        errors = template_errors(draft)
        message = ""
        if errors:
            message = str(_("Fix the template errors first."))
        elif profile is None:
            message = str(_("Choose a customer to send the test as."))
        else:
            try:
                send_test(draft, profile, address)
            except ChannelError as error:
                message = str(_("The test message was not sent: %(error)s")) % {
                    "error": error
                }
            else:
                return TemplateResponse(
                    request,
                    "omnichannel/admin/channels/test_send.html",
                    {"sent": True, "address": address.strip()},
                )
        return TemplateResponse(
            request,
            "omnichannel/admin/channels/test_send.html",
            {"sent": False, "message": message},
            status=400,
        )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The outbox, read-only: rows change only through the dispatcher."""

    list_display = (
        "id",
        "profile",
        "channel",
        "template",
        "status",
        "reason",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel", "reason", "source_type")
    search_fields = ("dedupe_key", "provider_message_id", "source_id")
    raw_id_fields = ("profile", "template")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_select_related = ("profile", "template")
    actions = ["retry_held", "cancel_waiting"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description=_("Render held deliveries again and send them"),
        permissions=["review"],
    )
    def retry_held(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = queryset.filter(status=Delivery.Status.HELD).update(
            status=Delivery.Status.PENDING, reason="", next_attempt_at=None
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d held delivery will be rendered again and sent.",
                "%(count)d held deliveries will be rendered again and sent.",
                count,
            )
            % {"count": count},
        )

    @admin.action(
        description=_("Cancel pending, deferred or held deliveries"),
        permissions=["review"],
    )
    def cancel_waiting(
        self, request: HttpRequest, queryset: QuerySet[Delivery]
    ) -> None:
        waiting = (
            Delivery.Status.PENDING,
            Delivery.Status.DEFERRED,
            Delivery.Status.HELD,
        )
        count = queryset.filter(status__in=waiting).update(
            status=Delivery.Status.CANCELLED, reason="cancelled_by_staff"
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery cancelled.",
                "%(count)d deliveries cancelled.",
                count,
            )
            % {"count": count},
        )

    def has_review_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


@admin.register(WebPushSubscription)
class WebPushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("profile", "created_at", "last_used_at")
    raw_id_fields = ("profile",)
    readonly_fields = ("endpoint", "p256dh", "auth", "user_agent")


@admin.register(OnsiteMessage)
class OnsiteMessageAdmin(admin.ModelAdmin):
    list_display = ("title", "profile", "created_at", "shown_at", "dismissed_at")
    raw_id_fields = ("profile", "delivery")
    list_filter = ("dismissed_at",)
