from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


class Cart(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        ORDERED = "ordered"
        SAVED = "saved"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    email = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.OPEN)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    sku = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PLACED = "placed"
        PAID = "paid"
        CANCELLED = "cancelled"
        REFUNDED = "refunded"

    number = models.CharField(max_length=20, unique=True)
    cart = models.ForeignKey(
        Cart, null=True, blank=True, related_name="orders", on_delete=models.SET_NULL
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    total = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    discount_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"order {self.number}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    sku = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class DiscountCode(models.Model):
    code = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=20)
    value = models.DecimalField(max_digits=10, decimal_places=2)
    valid_until = models.DateTimeField(null=True, blank=True)
    single_use = models.BooleanField(default=True)
    issued_to = models.CharField(max_length=36, blank=True)

    def __str__(self) -> str:
        return self.code


def place_order(cart, *, number, email="", phone="", discount_code=""):
    """Turn a cart into an order: the order row first, then its lines, then placed."""
    with transaction.atomic():
        order = Order.objects.create(
            number=number,
            cart=cart,
            user=cart.user,
            email=email or cart.email,
            phone=phone,
            discount_code=discount_code,
        )
        total = Decimal("0")
        for line in cart.lines.all():
            order.lines.create(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            total += line.unit_price * line.quantity
        order.total = total
        order.status = Order.Status.PLACED
        order.save()
        cart.status = Cart.Status.ORDERED
        cart.save()
    return order
