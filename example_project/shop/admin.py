from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shop.models import (
    Cart,
    CartLine,
    Category,
    Discount,
    Order,
    OrderLine,
    OrderStatusError,
    Product,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    list_filter = ["parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "category",
        "price",
        "currency",
        "stock",
        "is_active",
        "is_featured",
    ]
    list_editable = ["stock", "is_active", "is_featured"]
    list_filter = ["is_active", "is_featured", "category"]
    search_fields = ["sku", "name"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["pk", "user", "email", "status", "order", "updated_at"]
    list_filter = ["status"]
    search_fields = ["email", "session_key", "user__username"]
    raw_id_fields = ["user", "order"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [CartLineInline]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "email",
        "status",
        "total",
        "currency",
        "discount_code",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["number", "email", "phone"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user"]
    inlines = [OrderLineInline]
    actions = ["mark_paid"]

    @admin.action(description=_("Mark selected orders as paid"))
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        paid = 0
        for order in queryset:
            try:
                paid += order.mark_paid()
            except OrderStatusError as error:
                self.message_user(request, str(error), messages.ERROR)
        if paid:
            self.message_user(
                request,
                ngettext(
                    "Marked %(count)d order as paid.",
                    "Marked %(count)d orders as paid.",
                    paid,
                )
                % {"count": paid},
                messages.SUCCESS,
            )


@admin.register(Discount)
class DiscountAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "kind",
        "value",
        "single_use",
        "valid_until",
        "used_by_order",
        "used_at",
    ]
    list_filter = ["kind", "single_use"]
    search_fields = ["code"]
    raw_id_fields = ["used_by_order"]
    readonly_fields = ["created_at"]
