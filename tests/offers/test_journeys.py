from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.graph import InvalidGraph, validate_graph
from omnichannel.journeys.models import StepRun
from omnichannel.journeys.sending import _message_context, issue_step_offer
from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import issue_code
from tests.factories import OfferFactory
from tests.journeys.helpers import make_journey
from tests.offers.helpers import code_of, order_event

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def vip_mail(db):
    """The email template the journeys below name; publishing checks it exists."""
    from omnichannel.channels.models import MessageTemplate

    return MessageTemplate.objects.create(
        name="VIP mail", slug="vip-mail", channel="email", subject="For you", body="Hi"
    )


def branch_graph(condition, *, send_offer="vip-early-access"):
    """A run that waits a day, then tags the customer by the condition."""
    return {
        "start": "offer_mail",
        "steps": {
            "offer_mail": {
                "type": "send",
                "channel": "email",
                "template": "vip-mail",
                "offer": send_offer,
                "next": "wait",
            },
            "wait": {"type": "wait", "duration": "P1D", "next": "check"},
            "check": {
                "type": "branch",
                "condition": condition,
                "yes": "tag_claimed",
                "no": "tag_open",
            },
            "tag_claimed": {"type": "update_profile", "add_tags": ["claimed"]},
            "tag_open": {"type": "update_profile", "add_tags": ["open"]},
        },
    }


def test_offer_leaf_validates():
    validate_graph(
        branch_graph({"type": "offer", "offer": "vip-early-access", "state": "claimed"})
    )
    validate_graph(
        branch_graph({"type": "offer", "step": "offer_mail", "state": "seen"})
    )


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        (
            {"type": "offer", "offer": "x", "state": "used"},
            "check.condition.state",
            "one of",
        ),
        ({"type": "offer", "state": "claimed"}, "check.condition", "either"),
        (
            {"type": "offer", "offer": "x", "step": "offer_mail", "state": "claimed"},
            "check.condition",
            "either",
        ),
        (
            {"type": "offer", "offer": "", "state": "claimed"},
            "check.condition.offer",
            "slug",
        ),
        (
            {"type": "offer", "step": "wait", "state": "claimed"},
            "check.condition.step",
            "not a step that issues an offer",
        ),
    ],
)
def test_offer_leaf_rejects_bad_shape(condition, path, message):
    with pytest.raises(InvalidGraph) as caught:
        validate_graph(branch_graph(condition))

    assert caught.value.path == f"steps.{path}"
    assert message in caught.value.message


def test_send_step_offer_must_be_slug():
    graph = branch_graph({"type": "purchased_since_entry"}, send_offer=42)

    with pytest.raises(InvalidGraph) as caught:
        validate_graph(graph)

    assert caught.value.path == "steps.offer_mail.offer"


def run_branch(profile, condition, *, claim_at=None):
    """Enroll at T0 with the send step skipped, claim, run the branch at T0 + 1 day."""
    graph = branch_graph(condition)
    graph["start"] = "wait"
    journey = make_journey(graph)
    customer_offer = issue_code("vip-early-access", profile, at=T0)
    if claim_at is not None:
        order_event(profile, code_of(customer_offer), occurred_at=claim_at)
    enroll(journey, profile, at=T0)
    run_due(T0 + timedelta(days=1))
    profile.refresh_from_db()
    return profile.tags


@pytest.mark.parametrize(
    "condition",
    [
        {"type": "offer", "offer": "vip-early-access", "state": "claimed"},
        {"type": "offer", "step": "offer_mail", "state": "claimed"},
    ],
)
def test_branch_claimed_offer_takes_yes(anna, offer, condition):
    assert run_branch(anna, condition, claim_at=T0 + timedelta(hours=3)) == ["claimed"]


def test_branch_unclaimed_offer_takes_no(anna, offer):
    condition = {"type": "offer", "offer": "vip-early-access", "state": "claimed"}

    assert run_branch(anna, condition) == ["open"]


def test_branch_claim_after_branch_time_not_counted(anna, offer):
    # The order happened after the moment the branch is evaluated at.
    condition = {"type": "offer", "offer": "vip-early-access", "state": "claimed"}

    assert run_branch(anna, condition, claim_at=T0 + timedelta(days=2)) == ["open"]


def test_branch_combines_offer_leaf(anna, offer):
    condition = {
        "all": [
            {"type": "offer", "offer": "vip-early-access", "state": "issued"},
            {"not": {"type": "offer", "offer": "vip-early-access", "state": "expired"}},
        ]
    }

    assert run_branch(anna, condition) == ["claimed"]


@pytest.fixture
def enrollment(anna, offer):
    journey = make_journey(
        branch_graph({"type": "purchased_since_entry"}), slug="vip-welcome"
    )
    return enroll(journey, anna, at=T0)


def test_send_step_issues_code_into_context(enrollment):
    step = enrollment.version.graph["steps"]["offer_mail"]

    offer = issue_step_offer(step, "offer_mail", enrollment, T0)
    context = _message_context(step, enrollment, offer)

    customer_offer = CustomerOffer.objects.get(profile=enrollment.profile)
    assert customer_offer.source == "journey:vip-welcome:offer_mail"
    assert context["code"] == code_of(customer_offer)
    assert context["offer_code"] == code_of(customer_offer)
    assert context["offer"]["code"] == code_of(customer_offer)
    assert context["offer"]["slug"] == "vip-early-access"
    assert context["offer"]["state"] == "issued"


def test_send_step_second_visit_keeps_code(enrollment):
    step = enrollment.version.graph["steps"]["offer_mail"]

    first = issue_step_offer(step, "offer_mail", enrollment, T0)
    second = issue_step_offer(step, "offer_mail", enrollment, T0 + timedelta(days=1))

    assert first["code"] == second["code"]
    assert CustomerOffer.objects.count() == 1


def test_send_step_renews_expired_code(enrollment, offer):
    offer.code_valid_for = timedelta(days=7)
    offer.save()
    step = enrollment.version.graph["steps"]["offer_mail"]
    first = issue_step_offer(step, "offer_mail", enrollment, T0)

    second = issue_step_offer(step, "offer_mail", enrollment, T0 + timedelta(days=30))

    assert second["code"] != first["code"]
    assert second["state"] == "issued"
    assert CustomerOffer.objects.count() == 1


def test_send_step_claimed_offer_skipped(enrollment):
    step = enrollment.version.graph["steps"]["offer_mail"]
    customer_offer = issue_code("vip-early-access", enrollment.profile, at=T0)
    order_event(enrollment.profile, code_of(customer_offer))

    assert issue_step_offer(step, "offer_mail", enrollment, T0) is None

    skipped = StepRun.objects.get(outcome=StepRun.Outcome.SKIPPED)
    assert skipped.reason == "offer_unavailable"
    assert skipped.details == {"offer": "vip-early-access", "reason": "offer_claimed"}


def test_send_step_unknown_offer_skipped(anna):
    journey = make_journey(
        branch_graph({"type": "purchased_since_entry"}, send_offer="no-such-offer")
    )
    enrollment = enroll(journey, anna, at=T0)
    step = enrollment.version.graph["steps"]["offer_mail"]

    assert issue_step_offer(step, "offer_mail", enrollment, T0) is None
    assert StepRun.objects.get(outcome="skipped").details["reason"] == "unknown_offer"


def test_send_step_inactive_offer_skipped(enrollment, offer):
    offer.is_active = False
    offer.save()
    step = enrollment.version.graph["steps"]["offer_mail"]

    assert issue_step_offer(step, "offer_mail", enrollment, T0) is None
    assert StepRun.objects.get(outcome="skipped").details["reason"] == "inactive"


def test_send_step_without_code_adapter_skipped(enrollment):
    from django.test import override_settings

    step = enrollment.version.graph["steps"]["offer_mail"]

    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}}):
        assert issue_step_offer(step, "offer_mail", enrollment, T0) is None

    assert StepRun.objects.get(outcome="skipped").details["reason"] == "no_code_adapter"
    assert not CustomerOffer.objects.exists()


def test_message_context_without_offer_has_none(enrollment):
    step = {"type": "send", "channel": "email", "template": "x"}

    assert "offer" not in _message_context(step, enrollment)


def test_send_step_puts_code_into_delivery(anna):
    from omnichannel.channels.models import Delivery, MessageTemplate

    OfferFactory(slug="cart-free-shipping", kind="free_shipping", value=0)
    MessageTemplate.objects.create(
        name="Cart pop-up",
        slug="cart-popup",
        channel="onsite",
        body="Free shipping with {{ offer.code }}",
    )
    journey = make_journey(
        {
            "start": "popup",
            "steps": {
                "popup": {
                    "type": "send",
                    "channel": "onsite",
                    "template": "cart-popup",
                    "offer": "cart-free-shipping",
                }
            },
        }
    )
    enroll(journey, anna, at=T0)

    run_due(T0)

    from omnichannel.channels.services import render_for

    delivery = Delivery.objects.get()
    customer_offer = CustomerOffer.objects.get(profile=anna)
    rendered, _tracked = render_for(delivery)
    assert delivery.context["offer_code"] == code_of(customer_offer)
    assert delivery.context["offer"]["slug"] == "cart-free-shipping"
    assert f"Free shipping with {code_of(customer_offer)}" in rendered.html
