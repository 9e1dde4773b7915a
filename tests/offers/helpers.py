from decimal import Decimal

from omnichannel.profiles.services import track


def order_event(profile, code, *, order_id="A-1001", source="app", **fields):
    """Record an order that used ``code``, as the events API or a till reports it."""
    return track(
        "order_placed",
        profile=profile,
        source=source,
        object_type="order",
        object_id=order_id,
        revenue=fields.pop("revenue", Decimal("59.00")),
        currency="EUR",
        properties={"order_id": order_id, "discount_codes": [code]},
        **fields,
    )


def code_of(customer_offer) -> str:
    return customer_offer.codes.get().code
