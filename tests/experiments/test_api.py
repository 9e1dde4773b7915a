from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from omnichannel.experiments.models import Assignment
from omnichannel.profiles.models import Event
from tests.factories import ExperimentFactory, ProfileFactory, VariantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("a", "a@example.com", "pw"))
    return client


@pytest.fixture
def experiment():
    experiment = ExperimentFactory(key="hero-banner")
    control = VariantFactory(experiment=experiment, key="a", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    profile = ProfileFactory()
    Assignment.objects.create(experiment=experiment, profile=profile, variant=control)
    Event.objects.create(
        profile=profile,
        name="order_placed",
        occurred_at=timezone.now(),
        revenue=Decimal("9.50"),
        object_type="order",
        object_id="o1",
    )
    return experiment


def test_api_lists_experiments(staff, experiment):
    response = staff.get("/omnichannel/api/experiments/")

    assert response.status_code == 200
    assert response.json()[0]["key"] == "hero-banner"
    assert [v["key"] for v in response.json()[0]["variants"]] == ["a", "b"]


def test_api_results(staff, experiment):
    body = staff.get("/omnichannel/api/experiments/hero-banner/results/").json()

    assert body["arms"][0]["arm"] == "a"
    assert body["arms"][0]["converted"] == 1
    assert body["arms"][0]["revenue"] == "9.50"
    assert body["winner_candidate"] is None
    assert {c["metric"] for c in body["comparisons"]} >= {"conversion_rate"}


def test_api_needs_staff(client, experiment):
    response = client.get("/omnichannel/api/experiments/")

    assert response.status_code in (401, 403)


def test_api_unknown_key_404(staff):
    assert staff.get("/omnichannel/api/experiments/nope/results/").status_code == 404
