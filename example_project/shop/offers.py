"""Optional checks of personal offer codes with the omnichannel app.

The omnichannel app creates its offer codes as this shop's Discount rows. A Discount
has no owner, so the checkout checks with the app that the customer may use a code,
which fails when it was issued to someone else or used already in the app or at the
till.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps


def offer_code_error(code: str, *, email: str = "", user: Any = None) -> str | None:
    """Return why the omnichannel app rejects ``code`` for this customer, or None.

    None also when the app is not installed or the code is not one of its codes.
    """
    if not apps.is_installed("omnichannel"):
        return None
    from omnichannel.api import check_offer_code
    from omnichannel.exceptions import OfferCodeRejected

    try:
        check_offer_code(code, email=email or None, user=user)
    except OfferCodeRejected as rejected:
        return rejected.message
    return None


def offer_code_errors() -> tuple[type[Exception], ...]:
    """Return the exception placing an order raises when the app rejects its code.

    Two checkouts can race for one code past the form's check; the order's own
    transaction then fails with this exception.
    """
    if not apps.is_installed("omnichannel"):
        return ()
    from omnichannel.exceptions import OfferCodeRejected

    return (OfferCodeRejected,)
