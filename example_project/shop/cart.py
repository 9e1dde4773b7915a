"""The visitor's open cart: found by session key, or by user once logged in."""

from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils.translation import gettext as _

from shop.models import Cart, CartLine, Product

logger = logging.getLogger(__name__)

# The session remembers the cart id as well as the cart remembering the session key,
# because django.contrib.auth.login() gives the session a new key and the cart must
# be found again after that.
SESSION_CART_ID = "shop_cart_id"


class CartError(ValueError):
    """A cart change that cannot be made, with a message for the visitor."""


def get_cart(request: HttpRequest) -> Cart | None:
    """Return the visitor's open cart, or None if there is none yet."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return (
            Cart.objects.filter(user=user, status=Cart.Status.OPEN)
            .order_by("-updated_at")
            .first()
        )

    session_key = request.session.session_key
    if session_key is None:
        return None
    return (
        Cart.objects.filter(
            session_key=session_key, user__isnull=True, status=Cart.Status.OPEN
        )
        .order_by("-updated_at")
        .first()
    )


def get_or_create_cart(request: HttpRequest) -> Cart:
    """Return the visitor's open cart, creating it (and the session) if needed."""
    cart = get_cart(request)
    if cart is not None:
        return cart

    if request.session.session_key is None:
        request.session.save()
    user = request.user if request.user.is_authenticated else None
    cart = Cart.objects.create(
        user=user,
        session_key=request.session.session_key,
        email=getattr(user, "email", "") or "",
    )
    request.session[SESSION_CART_ID] = cart.pk
    return cart


def add_product(cart: Cart, product: Product, quantity: int = 1) -> CartLine:
    """Add ``quantity`` of ``product`` to the cart at its current price.

    Raises CartError for an inactive product, a currency other than the cart's, or
    more items than are in stock.
    """
    if quantity < 1:
        raise CartError(
            _("Quantity %(quantity)s is invalid. Add at least 1.")
            % {"quantity": quantity}
        )
    if not product.is_active:
        raise CartError(_("%(name)s is no longer sold.") % {"name": product.name})

    with transaction.atomic():
        line = CartLine.objects.filter(cart=cart, product=product).first()
        other_currency = (
            cart.lines.exclude(product__currency=product.currency)
            .values_list("product__currency", flat=True)
            .first()
        )
        if other_currency:
            raise CartError(
                _(
                    "%(name)s is priced in %(currency)s, but your cart is in "
                    "%(cart_currency)s. Check out or empty the cart first."
                )
                % {
                    "name": product.name,
                    "currency": product.currency,
                    "cart_currency": other_currency,
                }
            )

        wanted = quantity + (line.quantity if line else 0)
        if wanted > product.stock:
            raise CartError(_stock_message(product))

        if line is None:
            line = CartLine.objects.create(
                cart=cart, product=product, quantity=quantity, unit_price=product.price
            )
        else:
            line.quantity = F("quantity") + quantity
            line.unit_price = product.price
            line.save(update_fields=["quantity", "unit_price"])
            line.refresh_from_db(fields=["quantity"])
        cart.save(update_fields=["updated_at"])
    return line


def set_quantity(cart: Cart, line: CartLine, quantity: int) -> CartLine | None:
    """Set a line's quantity. Quantity 0 deletes the line and returns None."""
    if quantity < 0:
        raise CartError(
            _("Quantity %(quantity)s is invalid. Use 0 to remove the item.")
            % {"quantity": quantity}
        )

    with transaction.atomic():
        if quantity == 0:
            line.delete()
            cart.save(update_fields=["updated_at"])
            return None
        if quantity > line.product.stock:
            raise CartError(_stock_message(line.product))
        line.quantity = quantity
        line.save(update_fields=["quantity"])
        cart.save(update_fields=["updated_at"])
    return line


def attach_to_user(request: HttpRequest, user: AbstractBaseUser) -> Cart | None:
    """Give the session's anonymous cart to ``user`` after login.

    An older open cart of the same user is merged into the session's cart and then
    deleted, so the user has one open cart. Without a session cart, the user's
    older cart stays theirs and takes the new session key.
    """
    session_cart = _session_cart(request)
    user_cart = (
        Cart.objects.filter(user=user, status=Cart.Status.OPEN)
        .exclude(pk=getattr(session_cart, "pk", None))
        .order_by("-updated_at")
        .first()
    )
    session_key = request.session.session_key or ""

    with transaction.atomic():
        if session_cart is None:
            if user_cart is None:
                return None
            user_cart.session_key = session_key
            user_cart.save(update_fields=["session_key", "updated_at"])
            request.session[SESSION_CART_ID] = user_cart.pk
            return user_cart

        if user_cart is not None:
            _merge_lines(source=user_cart, target=session_cart)
            logger.info(
                "Merged older cart %s into cart %s at login of user %s",
                user_cart.pk,
                session_cart.pk,
                user.pk,
            )
            user_cart.delete()

        session_cart.user = user
        session_cart.session_key = session_key
        session_cart.email = session_cart.email or getattr(user, "email", "")
        session_cart.save(update_fields=["user", "session_key", "email", "updated_at"])
    request.session[SESSION_CART_ID] = session_cart.pk
    return session_cart


def _session_cart(request: HttpRequest) -> Cart | None:
    cart_id = request.session.get(SESSION_CART_ID)
    if cart_id is None:
        return None
    return Cart.objects.filter(
        pk=cart_id, user__isnull=True, status=Cart.Status.OPEN
    ).first()


def _merge_lines(source: Cart, target: Cart) -> None:
    """Copy the source's lines into the target, adding up quantities up to stock.

    Lines of products that are sold out or no longer sold are dropped.
    """
    for line in source.lines.select_related("product"):
        if not line.product.is_active or line.product.stock == 0:
            continue
        existing = target.lines.filter(product=line.product).first()
        if existing is None:
            line.pk = None
            line.cart = target
            line.quantity = min(line.quantity, line.product.stock)
            line.save()
            continue
        existing.quantity = max(
            min(existing.quantity + line.quantity, line.product.stock),
            existing.quantity,
        )
        existing.save(update_fields=["quantity"])


def _stock_message(product: Product) -> str:
    if product.stock == 0:
        return _("%(name)s is sold out.") % {"name": product.name}
    return _("Only %(stock)s of %(name)s left in stock.") % {
        "stock": product.stock,
        "name": product.name,
    }
