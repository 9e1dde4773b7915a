import datetime

import pytest
from django.urls import reverse

from omnichannel.predictions import services
from omnichannel.predictions.models import (
    CustomerPrediction,
    ModelKind,
    PredictionModel,
)
from omnichannel.profiles.models import Profile

from .conftest import CALIBRATION_END, HOLDOUT_END

pytestmark = pytest.mark.django_db


@pytest.fixture
def validation_record(cdnow_sample_rows):
    _comparison, record = services.validate_holdout(
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
        rows=cdnow_sample_rows,
        source="CDNOW_sample.txt",
    )
    return record


def test_admin_validation_page_shows_plot(admin_client, validation_record):
    url = reverse(
        "admin:omnichannel_predictionvalidation_change", args=[validation_record.pk]
    )
    response = admin_client.get(url)
    content = response.content.decode()
    assert response.status_code == 200
    assert 'src="data:image/png;base64,' in content
    assert "<td>7+</td><td>64</td>" in content


def test_admin_validation_list(admin_client, validation_record):
    response = admin_client.get(
        reverse("admin:omnichannel_predictionvalidation_changelist")
    )
    assert response.status_code == 200
    assert "CDNOW_sample.txt" in response.content.decode()


def test_admin_prediction_lists_load(admin_client):
    profile = Profile.objects.create()
    CustomerPrediction.objects.create(
        profile=profile, churn_risk=0.7, lifecycle_stage="at_risk"
    )
    for name in ("customerprediction", "predictionmodel"):
        response = admin_client.get(reverse(f"admin:omnichannel_{name}_changelist"))
        assert response.status_code == 200
    response = admin_client.get(
        reverse("admin:omnichannel_customerprediction_change", args=[profile.pk])
    )
    assert response.status_code == 200


def make_model(**fields):
    defaults = {
        "kind": ModelKind.BGNBD,
        "params": {"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.4},
        "calibration_end": datetime.date(2024, 1, 1),
        "converged": True,
    }
    return PredictionModel.objects.create(**{**defaults, **fields})


def test_admin_activate_action(admin_client):
    current = make_model(is_active=True)
    older = make_model()
    response = admin_client.post(
        reverse("admin:omnichannel_predictionmodel_changelist"),
        {"action": "activate", "_selected_action": [older.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 model activated" in response.content.decode()
    current.refresh_from_db()
    older.refresh_from_db()
    assert older.is_active
    assert not current.is_active


def test_admin_activate_action_rejects_unconverged(admin_client):
    broken = make_model(converged=False)
    response = admin_client.post(
        reverse("admin:omnichannel_predictionmodel_changelist"),
        {"action": "activate", "_selected_action": [broken.pk]},
        follow=True,
    )
    assert "did not converge" in response.content.decode()
    broken.refresh_from_db()
    assert not broken.is_active


def test_admin_activate_action_rejects_two_of_a_kind(admin_client):
    first = make_model()
    second = make_model()
    response = admin_client.post(
        reverse("admin:omnichannel_predictionmodel_changelist"),
        {"action": "activate", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert "at most one model of each kind" in response.content.decode()
    assert not PredictionModel.objects.filter(is_active=True).exists()
