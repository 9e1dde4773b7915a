from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import issue_code
from omnichannel.profiles.services import identify
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import OfferFactory
from tests.offers.helpers import code_of, order_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(
        get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    )
    return client


def test_offer_changelist_counts(staff, anna, ben, offer):
    issue_code(offer, ben)
    order_event(anna, code_of(issue_code(offer, anna)), revenue=Decimal("80.50"))

    response = staff.get(reverse("admin:omnichannel_offer_changelist"))

    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert row.issued == 2
    assert row.claimed == 1
    assert row.revenue == Decimal("80.50")
    html = response.content.decode()
    assert "50.0 %" in html
    assert "80.50" in html


def test_offer_add_form_renders(staff):
    response = staff.get(reverse("admin:omnichannel_offer_add"))

    assert response.status_code == 200


def test_offer_add_form_value_starts_empty(staff):
    response = staff.get(reverse("admin:omnichannel_offer_add"))

    form = response.context["adminform"].form
    assert form["value"].value() is None


def _offer_form(staff, **changes):
    page = staff.get(reverse("admin:omnichannel_offer_add"))
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None and not isinstance(value, list):
            data[name] = value
    data.update(name="Free delivery", slug="free-delivery", **changes)
    return data


def test_offer_free_shipping_saves_without_value(staff):
    from omnichannel.offers.models import Offer

    data = _offer_form(staff, kind=Offer.Kind.FREE_SHIPPING)
    response = staff.post(reverse("admin:omnichannel_offer_add"), data)

    assert response.status_code == 302
    assert Offer.objects.get(slug="free-delivery").value == Decimal("0")


def test_offer_percent_without_value_rejected(staff):
    from omnichannel.offers.models import Offer

    data = _offer_form(staff, kind=Offer.Kind.PERCENT)
    response = staff.post(reverse("admin:omnichannel_offer_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["value"]
    assert "from 0.01 to 100" in errors[0]
    assert not Offer.objects.filter(slug="free-delivery").exists()


def test_customer_offer_changelist_searches_code(staff, anna, offer):
    code = code_of(issue_code(offer, anna))

    response = staff.get(
        reverse("admin:omnichannel_customeroffer_changelist"), {"q": code}
    )

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
    assert code in response.content.decode()


def test_profile_page_lists_offers(staff, anna, offer):
    code = code_of(issue_code(offer, anna))

    response = staff.get(reverse("admin:omnichannel_profile_change", args=[anna.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert code in html
    assert "VIP early access" in html


def test_issue_to_audience_action(staff, anna, ben, offer, on_commit):
    vip = Segment.objects.create(name="VIP", slug="vip")
    offer.segments.add(vip)
    SegmentMembership.objects.create(segment=vip, profile=anna)
    identify(email="carl.example@example.com")

    with on_commit():
        response = staff.post(
            reverse("admin:omnichannel_offer_changelist"),
            {"action": "issue_to_audience", "_selected_action": [offer.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert list(CustomerOffer.objects.values_list("profile_id", flat=True)) == [anna.pk]
    assert CustomerOffer.objects.get().source == "admin:admin"


def test_issue_to_audience_without_segments_rejected(staff, anna):
    offer = OfferFactory()

    response = staff.post(
        reverse("admin:omnichannel_offer_changelist"),
        {"action": "issue_to_audience", "_selected_action": [offer.pk]},
        follow=True,
    )

    assert "has no audience segment" in response.content.decode()
    assert not CustomerOffer.objects.exists()


def test_deactivate_action(staff, offer):
    staff.post(
        reverse("admin:omnichannel_offer_changelist"),
        {"action": "deactivate", "_selected_action": [offer.pk]},
    )

    offer.refresh_from_db()
    assert offer.is_active is False
