import pytest

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import MessageTemplate
from omnichannel.channels.recommendations import reset_recommenders
from omnichannel.consent.services import record_consent
from tests.factories import ProfileFactory

LOCMEM = "omnichannel.channels.backends.locmem.LocmemBackend"


@pytest.fixture(autouse=True)
def _clean_outbox():
    locmem.outbox.clear()
    reset_recommenders()
    yield
    locmem.outbox.clear()


@pytest.fixture
def locmem_channels(settings):
    """Send every channel but email and on-site through the locmem backend."""
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            channel: {"BACKEND": LOCMEM}
            for channel in ("sms", "push", "webpush", "whatsapp", "webhook")
        },
    }
    return settings


@pytest.fixture
def email_template(db):
    return MessageTemplate.objects.create(
        name="Cart reminder",
        slug="cart-reminder",
        channel="email",
        subject="{{ first_name }}, your cart is waiting",
        body=(
            "<p>Hello {{ first_name }},</p>"
            '<p><a href="https://shop.example/cart">Back to your cart</a></p>'
            "{% for product in recommendations %}"
            '<p class="product">{{ product.name }}</p>{% endfor %}'
        ),
        css="p { color: #333333; }",
    )


@pytest.fixture
def sms_template(db):
    return MessageTemplate.objects.create(
        name="Cart SMS",
        slug="cart-sms",
        channel="sms",
        body="{{ first_name }}, your cart is waiting: https://shop.example/cart",
        recommendation_count=0,
    )


@pytest.fixture
def customer(db):
    profile = ProfileFactory(
        email="zoe.sample@example.com", phone="+447700900789", first_name="Zoe"
    )
    record_consent(profile, "email", True)
    record_consent(profile, "sms", True)
    return profile
