"""Catalog, carts, orders and discount codes of the example shop."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:category_detail", args=[self.slug])

    def ancestors(self) -> list[Category]:
        """Return the parent chain, root first, without this category."""
        chain: list[Category] = []
        node = self.parent
        while node is not None and node not in chain:
            chain.insert(0, node)
            node = node.parent
        return chain

    def descendant_ids(self) -> set[int]:
        """Return the ids of this category and every category below it."""
        found = {self.pk}
        frontier = [self.pk]
        while frontier:
            frontier = list(
                Category.objects.filter(parent__in=frontier)
                .exclude(pk__in=found)
                .values_list("pk", flat=True)
            )
            found.update(frontier)
        return found


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> ProductQuerySet:
        return self.filter(is_active=True)


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="products",
    )
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    stock = models.PositiveIntegerField(_("stock"), default=0)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_featured = models.BooleanField(
        _("featured"), default=False, help_text=_("Shown on the home page.")
    )

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0), name="shop_product_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", args=[self.slug])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


class Cart(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CONVERTED = "converted", _("converted")
        ABANDONED = "abandoned", _("abandoned")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="carts",
    )
    session_key = models.CharField(_("session key"), max_length=40, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    order = models.OneToOneField(
        "Order",
        verbose_name=_("order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_cart",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"Cart {self.pk} ({self.get_status_display()})"

    @property
    def total(self) -> Decimal:
        """Sum of the lines at their unit prices, before shipping and discounts."""
        return sum((line.subtotal for line in self.lines.all()), Decimal("0.00"))

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines.all())

    @property
    def currency(self) -> str:
        first_line = self.lines.select_related("product").first()
        if first_line is None:
            return "EUR"
        return first_line.product.currency


class CartLine(models.Model):
    cart = models.ForeignKey(
        Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        related_name="cart_lines",
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "product"], name="shop_cartline_one_per_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="shop_cartline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.sku}"

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderStatusError(ValueError):
    """An order cannot move to the requested status from its current one."""


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        PAID = "paid", _("paid")
        CANCELLED = "cancelled", _("cancelled")
        REFUNDED = "refunded", _("refunded")

    number = models.CharField(_("number"), max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField(_("email"))
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    subtotal = models.DecimalField(
        _("subtotal"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    shipping = models.DecimalField(
        _("shipping"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    discount_amount = models.DecimalField(
        _("discount amount"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    discount_code = models.CharField(_("discount code"), max_length=40, blank=True)
    # A default instead of auto_now_add, so that imports and tests can set the time.
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [models.Index(fields=["email"])]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("shop:order_detail", args=[self.number])

    def mark_paid(self, at: datetime.datetime | None = None) -> bool:
        """Mark a pending order paid and return True, or False if it was paid already.

        Raises OrderStatusError for cancelled and refunded orders.
        """
        if self.status == self.Status.PAID:
            return False
        if self.status != self.Status.PENDING:
            raise OrderStatusError(
                _(
                    "Order %(number)s is %(status)s. Only pending orders can be "
                    "marked paid."
                )
                % {"number": self.number, "status": self.get_status_display()}
            )
        self.status = self.Status.PAID
        self.paid_at = at or timezone.now()
        self.save(update_fields=["status", "paid_at"])
        return True


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order_lines",
    )
    # Copies of the product's SKU and name, kept when the product changes or goes.
    sku = models.CharField(_("SKU"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="shop_orderline_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


class Discount(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", _("percent off the goods")
        AMOUNT = "amount", _("fixed amount off the goods")
        FREE_SHIPPING = "free_shipping", _("free shipping")

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Customers may type it in any letter case."),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_(
            "Percent (1 to 100) for percent codes, an amount in the order currency "
            "for amount codes; ignored for free shipping."
        ),
    )
    single_use = models.BooleanField(_("single use"), default=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    used_by_order = models.ForeignKey(
        Order,
        verbose_name=_("used by order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discounts",
    )
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=0), name="shop_discount_value_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent", value__gt=100),
                name="shop_discount_percent_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if self.kind == self.Kind.PERCENT and not (0 < self.value <= 100):
            raise ValidationError(
                {"value": _("A percent discount needs a value from 0.01 to 100.")}
            )
        if self.kind == self.Kind.AMOUNT and self.value <= 0:
            raise ValidationError(
                {"value": _("An amount discount needs a value above 0.")}
            )

    @property
    def is_used(self) -> bool:
        return self.single_use and self.used_at is not None

    def is_expired(self, at: datetime.datetime | None = None) -> bool:
        return self.valid_until is not None and self.valid_until < (
            at or timezone.now()
        )
