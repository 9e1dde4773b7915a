"""A/B tests of journey sends: each customer gets the text of their arm."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.services import record_consent
from omnichannel.experiments.assignment import assign
from omnichannel.experiments.metrics import collect_arms
from omnichannel.experiments.models import Experiment
from omnichannel.journeys.engine import enroll, run_due
from omnichannel.journeys.experiments import clear_cache
from omnichannel.journeys.models import StepRun
from omnichannel.profiles.services import identify
from tests.factories import ExperimentFactory, VariantFactory
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GRAPH = {
    "start": "sms",
    "steps": {"sms": {"type": "send", "channel": "sms", "template": "restock"}},
}


@pytest.fixture(autouse=True)
def _setup(channels_settings):
    clear_cache()
    MessageTemplate.objects.create(
        name="Restock", slug="restock", channel="sms", body="Back in stock."
    )
    MessageTemplate.objects.create(
        name="Restock short", slug="restock-short", channel="sms", body="Back!"
    )
    yield
    clear_cache()


def _customers(count):
    profiles = []
    for number in range(count):
        profile = identify(phone=f"+4477009001{number:02d}")
        record_consent(profile, "sms", True, source="checkout")
        profiles.append(profile)
    return profiles


def _run(journey, profiles, on_commit):
    with on_commit():
        for profile in profiles:
            enroll(journey, profile, at=NOW)
    with on_commit():
        run_due(NOW)


def _experiment(target, target_ref, **fields):
    experiment = ExperimentFactory(target=target, target_ref=target_ref, **fields)
    VariantFactory(experiment=experiment, key="control", is_control=True, payload={})
    VariantFactory(
        experiment=experiment, key="short", payload={"body": "Back, {{ first_name }}!"}
    )
    return experiment


def test_step_experiment_sends_each_arm_its_text(on_commit):
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = _experiment(Experiment.Target.JOURNEY_STEP, "restock-alert/sms")
    profiles = _customers(12)

    _run(journey, profiles, on_commit)

    texts = {message.profile_id: message.rendered.text for message in locmem.outbox}
    assert len(texts) == 12
    for profile in profiles:
        variant = assign(experiment, profile)
        if variant.key == "short":
            assert texts[profile.pk].startswith("Back, ")
        else:
            assert texts[profile.pk].startswith("Back in stock.")
    assert {message.rendered.text[:5] for message in locmem.outbox} == {
        "Back,",
        "Back ",
    }


def test_step_experiment_sends_are_counted_per_arm(on_commit):
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = _experiment(Experiment.Target.JOURNEY_STEP, "restock-alert/sms")
    profiles = _customers(12)

    _run(journey, profiles, on_commit)

    arms = {arm.key: arm for arm in collect_arms(experiment)}
    assert arms["control"].sent + arms["short"].sent == 12
    assert arms["control"].sent == arms["control"].assigned
    assert arms["short"].sent == arms["short"].assigned
    delivery = Delivery.objects.first()
    assert delivery.context["experiment_id"] == experiment.pk
    assert delivery.context["variant"] in ("control", "short")


def test_holdout_customers_get_no_message(on_commit):
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = _experiment(
        Experiment.Target.JOURNEY_STEP, "restock-alert/sms", holdout_share=0.5
    )
    profiles = _customers(12)

    _run(journey, profiles, on_commit)

    held_back = [profile for profile in profiles if assign(experiment, profile) is None]
    assert held_back
    skipped = StepRun.objects.filter(reason="experiment_holdout")
    assert skipped.count() == len(held_back)
    assert skipped.first().details == {"experiment": experiment.key}
    assert len(locmem.outbox) == 12 - len(held_back)
    sent_to = {message.profile_id for message in locmem.outbox}
    assert not sent_to & {profile.pk for profile in held_back}


def test_message_experiment_swaps_template(on_commit):
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = ExperimentFactory(
        target=Experiment.Target.MESSAGE, target_ref="restock"
    )
    VariantFactory(experiment=experiment, key="control", is_control=True, weight=0)
    VariantFactory(
        experiment=experiment, key="short", payload={"template": "restock-short"}
    )
    profiles = _customers(3)

    _run(journey, profiles, on_commit)

    texts = [message.rendered.text.splitlines()[0] for message in locmem.outbox]
    assert texts == ["Back!"] * 3
    assert {message.template_slug for message in locmem.outbox} == {"restock-short"}


def test_draft_experiment_changes_nothing(on_commit):
    journey = make_journey(GRAPH, slug="restock-alert")
    _experiment(
        Experiment.Target.JOURNEY_STEP,
        "restock-alert/sms",
        status=Experiment.Status.DRAFT,
    )
    profiles = _customers(4)

    _run(journey, profiles, on_commit)

    texts = [message.rendered.text.splitlines()[0] for message in locmem.outbox]
    assert texts == ["Back in stock."] * 4
    assert "experiment_id" not in Delivery.objects.first().context


def test_single_dispatch_applies_overrides(on_commit):
    from omnichannel.channels.services import create_delivery, dispatch_delivery

    (profile,) = _customers(1)
    template = MessageTemplate.objects.get(slug="restock")
    delivery, _created = create_delivery(
        profile,
        "sms",
        template,
        dedupe_key="override-check",
        context={"overrides": {"body": "Restocked today."}},
    )

    # Noon tomorrow: after the consent, outside the channel settings' quiet hours.
    noon = (datetime.now(UTC) + timedelta(days=1)).replace(hour=12)
    with time_machine.travel(noon, tick=False), on_commit():
        dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == "sent", (delivery.status, delivery.reason)
    assert locmem.outbox[0].rendered.text.splitlines()[0] == "Restocked today."
    template.refresh_from_db()
    assert template.body == "Back in stock."


def test_broken_variant_leaves_step_its_own_text(on_commit, caplog):
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = ExperimentFactory(
        target=Experiment.Target.JOURNEY_STEP, target_ref="restock-alert/sms"
    )
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="broken", payload={"body": "{% if %}"})
    profiles = _customers(4)

    _run(journey, profiles, on_commit)

    texts = [message.rendered.text.splitlines()[0] for message in locmem.outbox]
    assert texts == ["Back in stock."] * 4
    assert "experiment_id" not in Delivery.objects.first().context
    assert any("is not applied to sms sends" in r.getMessage() for r in caplog.records)


def test_variant_template_of_other_channel_is_left_out(on_commit):
    MessageTemplate.objects.create(
        name="Restock mail",
        slug="restock-mail",
        channel="email",
        subject="In",
        body="x",
    )
    journey = make_journey(GRAPH, slug="restock-alert")
    experiment = ExperimentFactory(
        target=Experiment.Target.MESSAGE, target_ref="restock"
    )
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(
        experiment=experiment, key="mail", payload={"template": "restock-mail"}
    )
    profiles = _customers(3)

    _run(journey, profiles, on_commit)

    assert len(locmem.outbox) == 3
    assert {message.template_slug for message in locmem.outbox} == {"restock"}
