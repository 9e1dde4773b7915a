"""factory_boy factories for the example shop's models."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils.text import slugify
from factory.django import DjangoModelFactory, Password

from shop.models import Cart, CartLine, Category, Discount, Order, OrderLine, Product

PASSWORD = "Stoneware-Mug-42"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    username = factory.LazyAttribute(lambda user: user.email.lower())
    password = Password(PASSWORD)


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda category: slugify(category.name))


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"TST-{n:04d}")
    name = factory.Sequence(lambda n: f"Test Product {n}")
    slug = factory.LazyAttribute(lambda product: slugify(product.sku))
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("10.00")
    currency = "EUR"
    stock = 10
    is_active = True


class CartFactory(DjangoModelFactory):
    class Meta:
        model = Cart

    session_key = factory.Sequence(lambda n: f"session{n:032d}"[-32:])


class CartLineFactory(DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda line: line.product.price)


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"20261204-T{n:05d}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    subtotal = Decimal("10.00")
    shipping = Decimal("4.90")
    total = Decimal("14.90")
    currency = "EUR"


class OrderLineFactory(DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda line: line.product.sku)
    name = factory.LazyAttribute(lambda line: line.product.name)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda line: line.product.price)


class DiscountFactory(DjangoModelFactory):
    class Meta:
        model = Discount

    code = factory.Sequence(lambda n: f"CODE{n:04d}")
    kind = Discount.Kind.PERCENT
    value = Decimal("10.00")
    single_use = True
