from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.admin.offers import CustomerOfferInline
from omnichannel.authentication import API_SCOPES, digest_key, generate_key
from omnichannel.consent.gdpr import erase_profile, export_profile
from omnichannel.consent.models import Purpose
from omnichannel.consent.services import consent_state
from omnichannel.exceptions import MergeError
from omnichannel.profiles.merging import merge_profiles, undo_merge
from omnichannel.profiles.models import (
    APIKey,
    Event,
    Identity,
    Preference,
    Profile,
    ProfileMerge,
)

TIMELINE_LENGTH = 50


def actor_of(request: HttpRequest) -> str:
    """Return how staff actions name their author in records and logs."""
    return f"admin:{request.user.get_username()}"


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "source", "created_at", "last_seen_at")
    readonly_fields = ("created_at", "last_seen_at")


class PreferenceInline(admin.TabularInline):
    model = Preference
    extra = 0
    fields = ("key", "value", "source", "recorded_at")
    readonly_fields = ("recorded_at",)


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
    inlines = [IdentityInline, PreferenceInline, CustomerOfferInline]
    change_form_template = "omnichannel/admin/profile_change_form.html"
    list_select_related = ("rfm",)
    show_full_result_count = False
    actions = ["merge_selected", "export_selected", "erase_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        return super().get_queryset(request).filter(merged_into__isnull=True)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A profile with consent records cannot be deleted (the proof stays);
        # erasure is the way to remove a person.
        return False

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

    @admin.action(description=_("Merge the selected profiles into one"))
    def merge_selected(self, request: HttpRequest, queryset: QuerySet[Profile]) -> None:
        profiles = sorted(
            queryset, key=lambda p: (p.user_id is None, -p.order_count, p.pk)
        )
        if len(profiles) < 2:
            self.message_user(
                request, _("Select at least two profiles to merge."), messages.WARNING
            )
            return
        survivor, others = profiles[0], profiles[1:]
        merged = 0
        for other in others:
            try:
                merge_profiles(survivor, other, reason="admin", actor=actor_of(request))
            except MergeError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            merged += 1
        if merged:
            self.message_user(
                request,
                ngettext(
                    "Merged %(count)d profile into %(survivor)s.",
                    "Merged %(count)d profiles into %(survivor)s.",
                    merged,
                )
                % {"count": merged, "survivor": survivor},
                messages.SUCCESS,
            )

    @admin.action(description=_("Export all data of the selected profile (JSON)"))
    def export_selected(
        self, request: HttpRequest, queryset: QuerySet[Profile]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, _("Select exactly one profile to export."), messages.WARNING
            )
            return None
        profile = queryset.get()
        data = export_profile(profile, requested_by=actor_of(request), via="admin")
        response = HttpResponse(
            json.dumps(data, indent=2, cls=DjangoJSONEncoder),
            content_type="application/json",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="profile-{profile.uuid}.json"'
        )
        return response

    @admin.action(description=_("Erase the personal data of the selected profiles"))
    def erase_selected(
        self, request: HttpRequest, queryset: QuerySet[Profile]
    ) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Erase personal data"),
                "profiles": list(queryset),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            }
            return TemplateResponse(
                request, "omnichannel/admin/erase_confirmation.html", context
            )
        count = 0
        for profile in queryset:
            erase_profile(profile, requested_by=actor_of(request), via="admin")
            count += 1
        self.message_user(
            request,
            ngettext(
                "Erased %(count)d profile. Its consent proof is kept.",
                "Erased %(count)d profiles. Their consent proof is kept.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
        return None


def profile_context(profile: Profile) -> dict[str, Any]:
    """Gather what the 360 view shows of one profile."""
    events = profile.events.order_by("-occurred_at", "-id")
    return {
        "timeline": list(events[:TIMELINE_LENGTH]),
        "orders": list(events.filter(name="order_placed")[:20]),
        "rfm": getattr(profile, "rfm", None),
        "consent": list(consent_state(profile, purpose=Purpose.MARKETING).values()),
        "merges": list(
            ProfileMerge.objects.filter(survivor=profile).select_related("loser")[:20]
        ),
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
    """Merges, each with the rows it moved; a merge can be undone from here."""

    list_display = ("loser", "survivor", "reason", "created_at", "undone_at")
    list_filter = ("reason",)
    raw_id_fields = ("survivor", "loser")
    readonly_fields = (
        "survivor",
        "loser",
        "reason",
        "moved",
        "loser_fields",
        "survivor_fields",
        "created_at",
        "undone_at",
        "undone_by",
    )
    actions = ["undo_selected"]
    change_form_template = "omnichannel/admin/merge_change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:merge_id>/undo/",
                self.admin_site.admin_view(self.undo_view),
                name="omnichannel_profilemerge_undo",
            ),
            *super().get_urls(),
        ]

    def undo_view(self, request: HttpRequest, merge_id: int) -> HttpResponse:
        merge = get_object_or_404(ProfileMerge, pk=merge_id)
        if request.method != "POST" or not self.has_change_permission(request, merge):
            return HttpResponseRedirect(
                reverse("admin:omnichannel_profilemerge_change", args=[merge.pk])
            )
        self._undo(request, merge)
        return HttpResponseRedirect(
            reverse("admin:omnichannel_profilemerge_change", args=[merge.pk])
        )

    @admin.action(description=_("Undo the selected merges"))
    def undo_selected(
        self, request: HttpRequest, queryset: QuerySet[ProfileMerge]
    ) -> None:
        # Newest first, so that a chain of merges unwinds in the right order.
        for merge in queryset.order_by("-created_at", "-pk"):
            self._undo(request, merge)

    def _undo(self, request: HttpRequest, merge: ProfileMerge) -> None:
        try:
            undo_merge(merge, actor=actor_of(request))
        except MergeError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            _("Undid the merge of profile %(loser)s into %(survivor)s.")
            % {"loser": merge.loser_id, "survivor": merge.survivor_id},
            messages.SUCCESS,
        )


class APIKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=(), widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = APIKey
        fields = ("name", "scopes", "expires_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [
            (name, f"{name}: {description}")
            for name, description in sorted(API_SCOPES.items())
        ]

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if (
            expires_at is not None
            and "expires_at" in self.changed_data
            and expires_at <= timezone.now()
        ):
            raise forms.ValidationError(
                _(
                    "This time has passed, so the key would never work. Choose a "
                    "later time, or leave it empty for a key that does not expire."
                )
            )
        return expires_at


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """API keys; the secret is shown once, in a message after creation."""

    form = APIKeyForm
    list_display = (
        "name",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    readonly_fields = (
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke_selected"]

    def save_model(
        self, request: HttpRequest, obj: APIKey, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.prefix, raw_key = generate_key()
        obj.digest = digest_key(raw_key)
        obj.scopes = sorted(form.cleaned_data["scopes"])
        obj.created_by = actor_of(request)
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            _(
                "The new key is %(key)s. Copy it now: it is stored only as a digest "
                "and cannot be shown again."
            )
            % {"key": raw_key},
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("profile", "key", "value", "source", "recorded_at")
    list_filter = ("key", "source")
    search_fields = ("value", "profile__email")
    raw_id_fields = ("profile",)
