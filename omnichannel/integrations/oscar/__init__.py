"""Adapters and signal handlers for shops built on django-oscar.

Turn them on in the project's settings::

    from omnichannel.integrations.oscar import SHOP_ADAPTERS

    OMNICHANNEL = {"SHOP_ADAPTERS": SHOP_ADAPTERS}

The order adapter records orders, payments, cancellations, refunds and the vouchers
used; it also connects Oscar's sign-up, product-view and stock signals. The basket
adapter records basket changes. Importing this package does not import Oscar, so it
is safe where Oscar is not installed.
"""

SHOP_ADAPTERS = {
    "order.Order": "omnichannel.integrations.oscar.adapters.OrderAdapter",
    "basket.Basket": "omnichannel.integrations.oscar.adapters.BasketAdapter",
}
