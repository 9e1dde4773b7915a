"""Small helpers that drive the shop through its pages, as a browser would."""

from django.test import Client
from django.urls import reverse

from shop.models import Cart, Product


def add_to_cart(client: Client, product: Product, quantity: int = 1):
    return client.post(
        reverse("shop:cart_add", args=[product.pk]), {"quantity": quantity}
    )


def open_cart(client: Client) -> Cart:
    """Return the open cart of the client's session (anonymous visitors only)."""
    return Cart.objects.get(
        session_key=client.session.session_key, status=Cart.Status.OPEN
    )


def checkout(client: Client, **fields):
    data = {"email": "", "phone": "", "discount_code": ""}
    data.update(fields)
    return client.post(reverse("shop:checkout"), data)


def message_texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]
