"""A shop adapter that returns the delivery status of order 1001, for the bot tests."""

from tests.integrations.handmade.adapters import HandmadeOrderAdapter


class ShippingOrderAdapter(HandmadeOrderAdapter):
    def get_delivery_status(self, order_id):
        if order_id == "1001":
            return {"status": "shipped", "carrier": "DHL", "expected_on": "2026-12-08"}
        return None
