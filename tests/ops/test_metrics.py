import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY

from omnichannel.channels import services
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.journeys.engine import run_due
from omnichannel.ops import metrics
from omnichannel.profiles.services import track
from tests.factories import ProfileFactory
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

URL = reverse("omnichannel:metrics")
ROOT = Path(__file__).resolve().parents[2]


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def onsite_template(db):
    return MessageTemplate.objects.create(
        name="Banner",
        slug="banner",
        channel="onsite",
        subject="Hello",
        body="Hello {{ first_name }}",
        recommendation_count=0,
    )


def test_metrics_anonymous_rejected(client):
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_metrics_wrong_token_rejected(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer wrong")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_metrics_missing_setting_rejects_token(client):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer whatever")

    assert response.status_code == 401
    assert "MONITORING_TOKEN" in response.json()["detail"]


def test_metrics_token_reads_text_format(client, token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "omnichannel_due_enrollments 0.0" in text
    assert "omnichannel_deliveries_due 0.0" in text
    assert "# TYPE omnichannel_deliveries_total counter" in text


def test_metrics_staff_allowed(staff_client):
    assert staff_client.get(URL).status_code == 200


def test_delivery_outcome_counted_after_commit(on_commit, onsite_template):
    profile = ProfileFactory(first_name="Ada")
    before = sample("omnichannel_deliveries_total", channel="onsite", status="sent")
    delivery, _ = services.create_delivery(
        profile, "onsite", onsite_template, dedupe_key="metrics-1"
    )

    with on_commit():
        services.dispatch_delivery(delivery.pk)

    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT
    after = sample("omnichannel_deliveries_total", channel="onsite", status="sent")
    assert after == before + 1


def test_events_counted(on_commit):
    profile = ProfileFactory()
    before = sample("omnichannel_events_ingested_total")

    with on_commit():
        track("page_viewed", profile=profile, properties={"path": "/"})

    assert sample("omnichannel_events_ingested_total") == before + 1


def test_steps_counted_by_type(on_commit, onsite_template):
    journey = make_journey(
        {
            "start": "send",
            "steps": {
                "send": {"type": "send", "channel": "onsite", "template": "banner"}
            },
        }
    )
    from omnichannel.journeys.engine import enroll

    before = sample("omnichannel_journey_steps_total", step_type="send")
    with on_commit():
        enroll(journey, ProfileFactory())
    with on_commit():
        assert run_due() == 1

    assert sample("omnichannel_journey_steps_total", step_type="send") == before + 1


def test_multiprocess_counters_added_up(tmp_path, monkeypatch):
    script = (
        "from omnichannel.ops import metrics\n"
        "metrics.count_delivery('sms', 'failed')\n"
        "metrics.count_events(3)\n"
    )
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
            check=True,
            timeout=60,
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    text = metrics.render_latest().decode()

    assert 'omnichannel_deliveries_total{channel="sms",status="failed"} 2.0' in text
    assert "omnichannel_events_ingested_total 6.0" in text
    assert "omnichannel_due_enrollments 0.0" in text
