"""Starting an experiment checks its target against the running ones."""

import pytest

from omnichannel.exceptions import ExperimentError
from omnichannel.experiments.models import Experiment
from omnichannel.experiments.services import start_experiment
from tests.factories import ExperimentFactory, VariantFactory

pytestmark = pytest.mark.django_db


def _draft(target_ref, target=Experiment.Target.JOURNEY_STEP):
    experiment = ExperimentFactory(
        status=Experiment.Status.DRAFT, target=target, target_ref=target_ref
    )
    VariantFactory(experiment=experiment, key="control", is_control=True)
    VariantFactory(experiment=experiment, key="b")
    return experiment


def test_second_experiment_on_one_step_rejected():
    start_experiment(_draft("cart/email_1"))

    with pytest.raises(ExperimentError) as caught:
        start_experiment(_draft("cart/email_1"))

    assert caught.value.field == "target_ref"
    assert "already tests 'cart/email_1'" in str(caught.value)


@pytest.mark.parametrize("target_ref", ["cart", "cart/", "/email_1", "a/b/c"])
def test_step_reference_format_checked(target_ref):
    with pytest.raises(ExperimentError) as caught:
        start_experiment(_draft(target_ref))

    assert "'<journey slug>/<step key>'" in str(caught.value)


def test_placement_experiments_on_other_targets_start():
    start_experiment(_draft("home-hero", target=Experiment.Target.PLACEMENT))
    experiment = start_experiment(_draft("side", target=Experiment.Target.PLACEMENT))

    assert experiment.status == Experiment.Status.RUNNING


def test_admin_two_controls_is_a_form_error(admin_client):
    data = {
        "key": "two-controls",
        "name": "Two controls",
        "target": "message",
        "target_ref": "cart-reminder",
        "metric": "conversion_rate",
        "status": "draft",
        "holdout_share": "0",
        "conversion_window": "7 00:00:00",
        "significance_level": "0.05",
        "minimum_detectable_lift": "0.1",
        "minimum_sample_size": "100",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-key": "a",
        "variants-0-is_control": "on",
        "variants-0-weight": "1",
        "variants-0-payload": "{}",
        "variants-1-key": "b",
        "variants-1-is_control": "on",
        "variants-1-weight": "1",
        "variants-1-payload": "{}",
    }

    response = admin_client.post("/admin/omnichannel/experiment/add/", data)

    assert response.status_code == 200
    assert "all marked as the control" in response.content.decode()
    assert not Experiment.objects.filter(key="two-controls").exists()
