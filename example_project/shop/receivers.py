"""Signal handlers of the shop, connected in ShopConfig.ready()."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from shop.cart import attach_to_user


def attach_cart_on_login(
    sender: type[AbstractBaseUser],
    request: HttpRequest | None,
    user: AbstractBaseUser,
    **kwargs: Any,
) -> None:
    """Give the visitor's anonymous cart to the user who just logged in."""
    # login() can be called without a request, for example from a test client.
    if request is None or not hasattr(request, "session"):
        return
    attach_to_user(request, user)
