"""Admin of offers: issued, claimed and revenue counts, customers' codes and states."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnichannel.offers.models import CustomerOffer, Offer, OfferCode
from omnichannel.offers.services import primary_code, primary_code_subquery

CLAIMED = Q(customer_offers__state=CustomerOffer.State.CLAIMED)


class OfferForm(forms.ModelForm):
    """The offer form; the value starts empty, so typing does not append to 0.00."""

    class Meta:
        model = Offer
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose the fields.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "value" in self.fields:
            self.fields["value"].required = False
            if self.instance.pk is None:
                self.initial["value"] = None

    def clean_value(self) -> Decimal:
        # Free shipping and gifts need no value; the model checks the other kinds.
        return self.cleaned_data.get("value") or Decimal("0")


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    form = OfferForm
    list_display = (
        "name",
        "slug",
        "kind",
        "value",
        "is_active",
        "starts_at",
        "ends_at",
        "issued_count",
        "claimed_count",
        "claim_rate",
        "claimed_revenue",
        "customers_link",
    )
    list_filter = ("is_active", "kind", "create_in_shop")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("segments",)
    readonly_fields = ("created_at", "updated_at")
    actions = ["issue_to_audience", "deactivate"]
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "is_active")}),
        (
            _("What the customer gets"),
            {"fields": ("kind", "value", "currency", "gift")},
        ),
        (
            _("Validity and limits"),
            {
                "fields": (
                    "starts_at",
                    "ends_at",
                    "code_valid_for",
                    "max_codes",
                    "max_claims",
                )
            },
        ),
        (_("Audience"), {"fields": ("segments",)}),
        (_("Codes"), {"fields": ("code_prefix", "create_in_shop")}),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Offer]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                issued=Count("customer_offers"),
                claimed=Count("customer_offers", filter=CLAIMED),
                revenue=Sum("customer_offers__revenue", filter=CLAIMED),
            )
        )

    @admin.display(description=_("issued"), ordering="issued")
    def issued_count(self, offer: Offer) -> int:
        return offer.issued

    @admin.display(description=_("claimed"), ordering="claimed")
    def claimed_count(self, offer: Offer) -> int:
        return offer.claimed

    @admin.display(description=_("claim rate"))
    def claim_rate(self, offer: Offer) -> str:
        if not offer.issued:
            return "-"
        return f"{100 * offer.claimed / offer.issued:.1f} %"

    @admin.display(description=_("revenue of claiming orders"), ordering="revenue")
    def claimed_revenue(self, offer: Offer) -> str:
        return f"{offer.revenue:.2f}" if offer.revenue is not None else "0.00"

    @admin.display(description=_("customers"))
    def customers_link(self, offer: Offer) -> str:
        url = reverse("admin:omnichannel_customeroffer_changelist")
        return format_html(
            '<a href="{}?offer__id__exact={}">{}</a>', url, offer.pk, _("codes")
        )

    @admin.action(description=_("Issue codes to every member of the audience segments"))
    def issue_to_audience(
        self, request: HttpRequest, queryset: QuerySet[Offer]
    ) -> None:
        from omnichannel.offers.tasks import issue_to_audience

        queued = []
        for offer in queryset:
            if not offer.segments.exists():
                self.message_user(
                    request,
                    _(
                        "%(offer)s has no audience segment, so no codes were issued. "
                        "Choose the segments first."
                    )
                    % {"offer": offer.name},
                    messages.ERROR,
                )
                continue
            source = f"admin:{request.user.get_username()}"
            offer_id = offer.pk
            transaction.on_commit(
                lambda offer_id=offer_id, source=source: issue_to_audience.delay(
                    offer_id, source=source
                )
            )
            queued.append(offer)
        if queued:
            self.message_user(
                request,
                ngettext(
                    "Codes are being issued for %(count)d offer; the counts update "
                    "as they are written.",
                    "Codes are being issued for %(count)d offers; the counts update "
                    "as they are written.",
                    len(queued),
                )
                % {"count": len(queued)},
                messages.SUCCESS,
            )

    @admin.action(description=_("Deactivate: issue and accept no more codes"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Offer]) -> None:
        count = queryset.update(is_active=False)
        self.message_user(
            request,
            ngettext(
                "%(count)d offer deactivated.", "%(count)d offers deactivated.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )


class OfferCodeInline(admin.TabularInline):
    model = OfferCode
    extra = 0
    fields = ("code", "shop_code", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CustomerOffer)
class CustomerOfferAdmin(admin.ModelAdmin):
    """Read-only: states change through orders, pages and the API, not by hand."""

    list_display = (
        "offer",
        "profile",
        "code",
        "current_state",
        "issued_at",
        "valid_until",
        "claimed_at",
        "order_id",
        "claim_channel",
        "revenue",
    )
    list_filter = ("state", "offer", "claim_channel")
    search_fields = ("codes__code", "profile__email", "order_id", "offer__slug")
    list_select_related = ("offer", "profile")
    raw_id_fields = ("profile",)
    inlines = [OfferCodeInline]
    date_hierarchy = "issued_at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerOffer]:
        queryset = super().get_queryset(request)
        return queryset.annotate(primary_code=primary_code_subquery())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("code"))
    def code(self, customer_offer: CustomerOffer) -> str:
        return primary_code(customer_offer)

    @admin.display(description=_("state"), ordering="state")
    def current_state(self, customer_offer: CustomerOffer) -> str:
        return str(CustomerOffer.State(customer_offer.state_at()).label)


class CustomerOfferInline(admin.TabularInline):
    """A customer's offers on their profile page, with codes and states."""

    model = CustomerOffer
    extra = 0
    fields = (
        "offer",
        "code",
        "current_state",
        "issued_at",
        "valid_until",
        "claimed_at",
        "order_id",
        "claim_channel",
        "revenue",
    )
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("offers")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerOffer]:
        queryset = super().get_queryset(request).select_related("offer")
        return queryset.annotate(primary_code=primary_code_subquery())

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("code"))
    def code(self, customer_offer: CustomerOffer) -> str:
        return primary_code(customer_offer)

    @admin.display(description=_("state"))
    def current_state(self, customer_offer: CustomerOffer) -> str:
        return str(CustomerOffer.State(customer_offer.state_at()).label)
